"""Data layer: sources, readers, the DrugResponseData container, built-in datasets."""
from drpkit.data import catalog as _catalog  # noqa: F401  - registers the sources
from drpkit.data.container import DrugResponseData
from drpkit.data.datasets import DATASETS, load_dataset
from drpkit.data.labels import label_rule_names
from drpkit.data.sources import SOURCES, cache_dir
from drpkit.data.spec import DataSpec

__all__ = ["DATASETS", "SOURCES", "DataSpec", "DrugResponseData", "cache_dir", "label_rule_names",
           "load_dataset"]
