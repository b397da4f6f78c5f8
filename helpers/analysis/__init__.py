"""One module per notebook, named after it, and the plots, widgets and setup they share."""
