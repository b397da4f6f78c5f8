"""Import TensorFlow without its start-up log lines (the package sets its C++ log level once)."""

import os


def import_tensorflow_quietly():
    """Import TensorFlow with its start-up C++ log lines (oneDNN, CUDA, absl) kept off the screen.

    TensorFlow prints those lines straight to the process's stderr before its logging is configured, so
    ``TF_CPP_MIN_LOG_LEVEL`` alone does not hide them and Jupyter shows them as red stderr output. This
    points file descriptor 2 at ``/dev/null`` while TensorFlow loads and initialises its devices, then
    restores it: errors raised later are shown as usual. TensorFlow's Python logger is set to show errors
    only. Returns the ``tensorflow`` module.
    """
    import sys

    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf

        tf.config.list_physical_devices()
        tf.constant(0.0) + 1.0  # the first op initialises the runtime, which logs once more
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    # Python-side warnings such as "triggered tf.function retracing" are advice for library authors;
    # errors still show.
    tf.get_logger().setLevel("ERROR")
    return tf


def import_backend_quietly() -> None:
    """Load TensorFlow quietly when it is the Keras backend; other backends (``KERAS_BACKEND=torch``) need no TF."""
    from helpers.core.machine import keras_backend

    if keras_backend() == "tensorflow":
        import_tensorflow_quietly()
