"""Explanations of fitted models: drug-gene rankings, their checks and figures.

* :mod:`drpkit.explain.attention`: drGT's attention coefficients -> drug-gene
  and cell-gene scores (direct coefficients and attention flow);
* :mod:`drpkit.explain.gradients`: integrated gradients (captum) on the input
  genes, for models without attention (``mlp``, ``nihgcn``/``mtigcn``...);
* :mod:`drpkit.explain.checks`: do the rankings mean something? DTI recovery
  against random and degree-matched genes, pathway enrichment;
* :mod:`drpkit.explain.figures`: heatmap and network of top links;
* :mod:`drpkit.explain.runs`: ``drpkit explain RUN`` on a train run or a
  benchmark run directory.

Every ranking is a table with at least the columns ``drug, gene, score,
rank`` (:data:`drpkit.explain.attention.SCORE_COLUMNS`), stored as the
``drug_gene_scores`` artifact of a run's task when the model exports it.
"""
