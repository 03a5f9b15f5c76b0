"""Operating the toolkit day to day: the run index (``toolkit runs``)."""
