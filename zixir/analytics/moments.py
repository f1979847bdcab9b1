"""Running moments that merge and retract exactly: counts, means and centred sums.

Chan's parallel update (and its inverse) keeps them stable where sums of squares would
cancel; they are stored as plain lists in the experiment's cache record.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CoMoments", "Moments"]


@dataclass(slots=True)
class Moments:
    """Count, mean and sum of squared deviations (M2) of a set of values."""

    n: float = 0.0
    mean: float = 0.0
    m2: float = 0.0

    @property
    def variance(self) -> float:
        """The sample variance (ddof=1); nan below two values."""
        return self.m2 / (self.n - 1) if self.n > 1 else float("nan")

    def merge(self, other: Moments) -> None:
        """Adds the values `other` describes (Chan et al.)."""
        n = self.n + other.n
        if n == 0:
            return
        delta = other.mean - self.mean
        self.mean += delta * other.n / n
        self.m2 += other.m2 + delta * delta * self.n * other.n / n
        self.n = n

    def add(self, x: float) -> None:
        """Adds one value (Welford)."""
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (x - self.mean)

    def remove(self, x: float) -> None:
        """Takes back one value added before."""
        if self.n <= 1:
            self.n, self.mean, self.m2 = 0.0, 0.0, 0.0
            return
        mean = (self.n * self.mean - x) / (self.n - 1)
        self.m2 = max(0.0, self.m2 - (x - mean) * (x - self.mean))
        self.mean = mean
        self.n -= 1

    def to_list(self) -> list[float]:
        """The stored form."""
        return [self.n, self.mean, self.m2]

    @classmethod
    def of(cls, stored: list[float] | None) -> Moments:
        """From the stored form (None: empty)."""
        return cls() if stored is None else cls(*stored)


@dataclass(slots=True)
class CoMoments:
    """Moments of pairs (y, x): both means, both M2s and the co-moment C = sum dy*dx."""

    n: float = 0.0
    my: float = 0.0
    mx: float = 0.0
    myy: float = 0.0
    mxx: float = 0.0
    cxy: float = 0.0

    def add(self, y: float, x: float, sign: int = 1) -> None:
        """Adds the pair (sign 1) or takes back one added before (sign -1)."""
        if sign < 0 and self.n <= 1:
            self.n = self.my = self.mx = self.myy = self.mxx = self.cxy = 0.0
            return
        n = self.n + sign
        dy, dx = y - self.my, x - self.mx
        my = self.my + sign * dy / n
        mx = self.mx + sign * dx / n
        self.myy += sign * dy * (y - my)
        self.mxx += sign * dx * (x - mx)
        self.cxy += sign * dy * (x - mx)
        self.n, self.my, self.mx = n, my, mx

    def merge(self, other: CoMoments) -> None:
        """Adds the pairs `other` describes."""
        n = self.n + other.n
        if n == 0:
            return
        dy, dx = other.my - self.my, other.mx - self.mx
        w = self.n * other.n / n
        self.myy += other.myy + dy * dy * w
        self.mxx += other.mxx + dx * dx * w
        self.cxy += other.cxy + dy * dx * w
        self.my += dy * other.n / n
        self.mx += dx * other.n / n
        self.n = n

    def to_list(self) -> list[float]:
        """The stored form."""
        return [self.n, self.my, self.mx, self.myy, self.mxx, self.cxy]

    @classmethod
    def of(cls, stored: list[float] | None) -> CoMoments:
        """From the stored form (None: empty)."""
        return cls() if stored is None else cls(*stored)
