"""ChemNet's encoder as a torch module, built from the layer list in its weight file.

Kept apart from :mod:`drpkit.resources.mol_encoder` so that listing resources
does not import torch. The weight file (fcd 1.2.2's ``ChemNet_v0.13_pretrained.pt``)
is a list of ``(layer kind, (state dict, constructor arguments, extra))``
entries, read with ``torch.load(weights_only=True)``; only the layout
checked below is accepted.
"""
from __future__ import annotations

import torch
from torch import nn

from drpkit.errors import DataError


class _SamePad(nn.Module):
    """Keras 'same' padding for a strided 1-d convolution."""

    def __init__(self, kernel: int, stride: int):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rest = x.shape[2] % self.stride
        pad = max(self.kernel - (self.stride if rest == 0 else rest), 0)
        return nn.functional.pad(x, (pad // 2, pad - pad // 2))


class ChemNet(nn.Module):
    """ChemNet's encoder: conv(35->32) -> conv(32->32) -> reversed LSTM(128) ->
    reversed LSTM(512), last state. Built from the layer list in the weight file."""

    def __init__(self, layers: list):
        super().__init__()
        kinds = [kind for kind, _ in layers]
        if kinds != ["Conv1d", "Conv1d", "LSTM", "LSTM"]:
            raise DataError(f"unexpected ChemNet layer layout {kinds}")
        convs, lstms = [], []
        for kind, (state, kwargs, extra) in layers:
            if kind == "Conv1d":
                conv = nn.Conv1d(kwargs["in_channels"], kwargs["out_channels"],
                                 kwargs["kernel_size"], stride=kwargs["stride"], bias=False)
                conv.load_state_dict(state)
                convs += [_SamePad(kwargs["kernel_size"], kwargs["stride"]), conv, nn.SELU()]
                if extra.get("activation") != "selu" or extra.get("padding") != "same":
                    raise DataError(f"unexpected ChemNet convolution {extra}")
            else:
                lstm = nn.LSTM(kwargs["input_size"], kwargs["hidden_size"], batch_first=True)
                lstm.load_state_dict(state)
                if not extra.get("reverse"):
                    raise DataError(f"unexpected ChemNet LSTM {extra}")
                lstms.append(lstm)
        self.convs, self.lstms = nn.Sequential(*convs), nn.ModuleList(lstms)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (batch, 35, length) one-hot -> (batch, 512)."""
        h = self.convs(x).transpose(1, 2)
        for lstm in self.lstms:
            h = lstm(torch.flip(h, [1]))[0]
        return h[:, -1]
