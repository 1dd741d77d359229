"""Data: generated demo scenes now; rendered glassware and dataset loaders come later."""
