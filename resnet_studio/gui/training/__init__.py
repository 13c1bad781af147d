"""Training view: worker, train panel, live plots, runs view, export dialog."""
