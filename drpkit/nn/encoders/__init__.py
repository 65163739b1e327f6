"""Composable encoder parts: drugs and cells -> embeddings, chosen by name in a config.

A model is composed from parts, chemprop-style, so an ablation (fingerprints
instead of a molecular GNN, pathway tokens instead of an expression MLP) is a
setting, not code. Drug encoders (``DRUG_ENCODERS``): ``fingerprint-mlp``,
``mol-gnn`` (GINE on RDKit graphs), ``mol-encoder`` (frozen pretrained ChemNet
vectors + trainable head). Cell encoders (``CELL_ENCODERS``): ``mlp``,
``pathway-tokens`` (one token per gene set).

**How a model uses a part.** Every part is an ``nn.Module`` with a pydantic
``Config`` (unknown keys are errors; defaults live there only):

0. *declare*: the model config holds ``drug: DrugEncoderSpec =
   DrugEncoderSpec(name="mol-gnn")`` (checked when the config is made;
   ``-p drug.name=fingerprint-mlp -p drug.config.dim=64`` switches it), and
   the model's ``__init__`` sets ``self.drug_views, self.resources =
   requirements(cfg.drug, cfg.cell)`` (builds nothing); the pipeline reads
   both from the instance, checks them and hands the model only those;
1. *build*: ``cfg.drug.build()`` or ``build_drug_encoder("mol-gnn", {...})``.
   Weights are drawn from torch's global RNG: seed first. A part whose sizes
   depend on data (``fitted``: a fingerprint's width, the genes, the gene
   sets) has no weights until step 2;
2. *fit* on the training part only: ``drug.fit(train)``;
   ``cell.fit(x_train, cell.gene_sets(train))`` records the genes and, for
   pathway tokens, the kept sets and the training cells' z-score statistics.
   Fitting (re)creates the weights: fit, then ``.to(device)``, then make the
   optimiser;
3. *prepare* any data (training, validation, a user's new cells), outside
   autograd and once per data set: ``drug.prepare(data, drugs)`` gives a
   fingerprint matrix, a batched molecular graph or pretrained vectors, rows
   in the order of ``drugs``; ``cell.prepare(expression.loc[cells])`` gives a
   gene or gene-set score matrix. Prepared objects have ``.to(device)``;
4. *forward*: ``drug(prepared)`` -> (n_drugs, dim), ``cell(prepared)`` ->
   (n_cells, dim); a pair batch encodes the prepared drugs and cells and
   indexes rows. Tokens for attention: ``MolGNN.forward_tokens`` -> (atom
   embeddings, batch vector; ``torch_geometric.utils.to_dense_batch`` pads
   them) and ``PathwayTokens.forward_tokens`` -> (n_cells, n_sets, dim).

To save a part, store ``part.hparams`` (``{"cls": name, **config, **fitted}``,
JSON) and ``part.state_dict()`` (safetensors); ``DrugEncoder.from_hparams(h)``
(``CellEncoder...``) then ``load_state_dict`` restore it.
"""
from drpkit.nn.encoders.base import Part, PartConfig, mlp
from drpkit.nn.encoders.cells import CELL_ENCODERS, CellEncoder, CellMLP, PathwayTokens
from drpkit.nn.encoders.choice import (
    CellEncoderSpec,
    DrugEncoderSpec,
    PartSpec,
    build_cell_encoder,
    build_drug_encoder,
    requirements,
)
from drpkit.nn.encoders.drugs import (
    DRUG_ENCODERS,
    DrugEncoder,
    FingerprintMLP,
    MolEncoderHead,
    MolGNN,
)

__all__ = ["CELL_ENCODERS", "DRUG_ENCODERS", "CellEncoder", "CellEncoderSpec", "CellMLP",
           "DrugEncoder", "DrugEncoderSpec", "FingerprintMLP", "MolEncoderHead", "MolGNN", "Part",
           "PartConfig", "PartSpec", "PathwayTokens", "build_cell_encoder", "build_drug_encoder",
           "mlp", "requirements"]
