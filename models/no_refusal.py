"""Decode without refusing: a logits processor that keeps a reply from starting ``BLOCKED:``.

When a safety guard judges every tool call, a model's refusal gets a second look: the same
model is asked for its best reply that is not a refusal (its next choice), and the guard
judges that instead (see ``spectool_app.loop``). This processor is how: while a reply is
still blank it masks every token whose text would start (or be the start of) the refusal
prefix, in any case; from the first visible character on it changes nothing.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from transformers import LogitsProcessor

from models.copy_values import _pieces
from spectool_app.parsing import BLOCKED_PREFIX


@functools.lru_cache(maxsize=4)
def refusal_starts(tokenizer: Any) -> tuple[int, ...]:
    """Ids of the tokens a reply's first visible text could refuse with (``B``, ``BLOCK``, ``BLOCKED:``...)."""
    banned = []
    for piece, ids in _pieces(tokenizer)[0].items():
        text = piece.lstrip().upper()
        if text and (BLOCKED_PREFIX.startswith(text) or text.startswith(BLOCKED_PREFIX)):
            banned.extend(ids)
    return tuple(sorted(banned))


class NoRefusalProcessor(LogitsProcessor):
    """Masks the refusal's first tokens in every row whose reply so far is blank."""

    def __init__(self, tokenizer: Any, prompt_width: int) -> None:
        self.tokenizer = tokenizer  # decodes the reply so far
        self.prompt_width = prompt_width  # generated tokens start at this column (left padding)
        self.banned = torch.tensor(refusal_starts(tokenizer), dtype=torch.long)  # the masked ids

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if not len(self.banned):
            return scores
        banned = self.banned.to(scores.device)
        for row in range(input_ids.shape[0]):
            reply = self.tokenizer.decode(input_ids[row, self.prompt_width:], skip_special_tokens=False)
            if not reply.strip():
                scores[row, banned] = float("-inf")
        return scores
