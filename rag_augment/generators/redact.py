"""Keep a secret (an API key) out of everything we write: errors, logs, cached answers.

A key can leak whole, or as a fragment: an error body cut at 300 characters keeps its prefix (`sk-test-PLA...`).
So every 8-character piece of the key counts: text holding any 8+ character substring of the key holds one of
these pieces, and masking the runs they cover masks every fragment.
"""
from __future__ import annotations

MIN_FRAGMENT = 8
MASK = "***"


class Secret:
    """A secret that can be looked for and masked, but never printed (its repr is masked too)."""

    def __init__(self, value: str, min_fragment: int = MIN_FRAGMENT):
        self._value = value or ""
        self._n = min(min_fragment, len(self._value))
        self._pieces = ({self._value[i:i + self._n] for i in range(len(self._value) - self._n + 1)}
                        if self._n >= 4 else set())  # a 1-3 character "key" is no secret worth masking

    def __repr__(self) -> str:
        return "Secret(***)"

    def __bool__(self) -> bool:
        return bool(self._pieces)

    def found_in(self, text: str) -> bool:
        """True when text holds the secret or any fragment of it at least min_fragment characters long."""
        n = self._n
        return bool(self._pieces) and any(text[i:i + n] in self._pieces for i in range(len(text) - n + 1))

    def mask(self, text: str, mark: str = MASK) -> str:
        """text with every run covered by a fragment of the secret replaced by mark (*** by default)."""
        if not self.found_in(text):
            return text
        n, covered = self._n, [False] * len(text)
        for i in range(len(text) - n + 1):
            if text[i:i + n] in self._pieces:
                covered[i:i + n] = [True] * n
        out, i = [], 0
        while i < len(text):
            if covered[i]:
                while i < len(text) and covered[i]:
                    i += 1
                out.append(mark)
            else:
                out.append(text[i])
                i += 1
        return "".join(out)
