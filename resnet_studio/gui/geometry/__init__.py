"""The Geometry tab: lesion studies and loss landscapes of a run or a plain-twin pair."""
