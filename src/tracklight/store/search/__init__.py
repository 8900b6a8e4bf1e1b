"""Search filters and ordering for the MLflow search endpoints, compiled to parameterized SQL."""

from tracklight.store.search.experiments import ExperimentSearchPage, search_experiment_ids
from tracklight.store.search.grammar import Comparison, OrderKey, parse_filter, parse_order_by
from tracklight.store.search.runs import RunPage, RunSearchPage, search_run_ids, search_run_page

__all__ = [
    "Comparison",
    "ExperimentSearchPage",
    "OrderKey",
    "RunPage",
    "RunSearchPage",
    "parse_filter",
    "parse_order_by",
    "search_experiment_ids",
    "search_run_ids",
    "search_run_page",
]
