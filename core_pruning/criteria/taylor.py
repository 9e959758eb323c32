"""First-order Taylor importance (Molchanov et al. 2019, "Importance Estimation for Neural Network Pruning").

Reading implemented: the loss change from removing channel ``i`` is approximated to first order by
``|sum over every parameter w that disappears with i of w * dL/dw|`` (filter weights and bias of coupled
output layers, BatchNorm gamma/beta, and the consumer input slices), with ``dL/dw`` the gradient of the
mean loss over the calibration batches. The paper squares per-minibatch sums and averages them; we use
the gradient of the whole calibration loss, which needs one copy of the gradients instead of one per batch.
"""

from __future__ import annotations

import torch
from torch import nn

from core_pruning.counting import run_model
from core_pruning.criteria.base import Criterion, ScoringContext
from core_pruning.groups import ChannelGroup, per_input_channel
from prunelab.errors import InputError


class Taylor(Criterion):
    name = "taylor"
    needs_data = True

    def prepare(self, ctx: ScoringContext) -> None:
        super().prepare(ctx)
        if not ctx.calib_batches:
            raise InputError("criterion 'taylor' needs calibration data (calib_data=...) with targets or a loss_fn")
        model = ctx.model
        loss_fn = ctx.loss_fn
        was_training = model.training
        model.eval()
        model.zero_grad(set_to_none=True)
        try:
            n = len(ctx.calib_batches)
            for inputs, targets in ctx.calib_batches:
                outputs = run_model(model, inputs)
                if loss_fn is not None:
                    loss = loss_fn(outputs, targets) if targets is not None else loss_fn(outputs)
                elif targets is not None:
                    loss = nn.functional.cross_entropy(outputs, targets)
                else:
                    raise InputError("criterion 'taylor' needs targets in calib_data or a loss_fn")
                (loss / n).backward()
        finally:
            model.train(was_training)

    @staticmethod
    def _wg(param: torch.Tensor | None) -> torch.Tensor | None:
        if param is None or param.grad is None:
            return None
        return (param.detach() * param.grad.detach())

    def score(self, group: ChannelGroup, ctx: ScoringContext) -> torch.Tensor:
        total = torch.zeros(group.size, dtype=torch.float64)
        for member in group.outputs:
            module = member.module
            wg = self._wg(module.weight)
            if wg is None:
                continue
            if getattr(module, "transposed", False):
                wg = wg.transpose(0, 1)
            contrib = wg[member.idxs].flatten(1).sum(1)
            bg = self._wg(module.bias)
            if bg is not None:
                contrib = contrib + bg[member.idxs]
            total += member.scatter(contrib, group.size)
        for member in group.norms:
            for param in (member.module.weight, member.module.bias):
                pg = self._wg(param)
                if pg is not None:
                    total += member.scatter(pg[member.idxs], group.size)
        for member in group.inputs:
            module = member.module
            wg = self._wg(module.weight)
            if wg is None:
                continue
            per_in = per_input_channel(module, wg)
            total += member.scatter(per_in[member.idxs].reshape(len(member.idxs), -1).sum(1), group.size)
        return total.abs()
