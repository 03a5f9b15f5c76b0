"""Adaptive, volume-adjusted, constant-velocity Kalman filter with a signed trend strength.

This is the trend engine of Hierarchical Adaptive v3.5b (spec
``hierarchical_adaptive_v3_5b.md`` §3.1). Only the signed, WMA-smoothed trend strength
is used by the strategy; the filtered level is kept for inspection.

Why plain Python floats and not numpy matrices: the state is a 2-vector and a 2x2
covariance, so scalar arithmetic is several times faster than tiny numpy products, and
(more importantly) both the bar-by-bar ``decide`` path and the vectorised
``decisions`` path call this very same :meth:`KalmanTrend.update`, so they produce
identical floats on every bar by construction.
"""

from __future__ import annotations

import math
from collections import deque

#: Innovation history length (spec §3.1 hidden constant ``sigma_lookback``).
SIGMA_LOOKBACK = 500
#: Oscillator buffer length (spec §3.1 hidden constant ``trend_lookback``).
TREND_LOOKBACK = 20


def _wma_tail(buf: deque[float], n: int) -> float:
    """WMA of the last ``n`` values of ``buf``: weights 1..n, newest weighted n (§3.1)."""
    start = len(buf) - n
    acc = 0.0
    w = 1
    for k in range(start, len(buf)):
        acc += w * buf[k]
        w += 1
    return acc / (n * (n + 1) / 2)


class KalmanTrend:
    """Stateful Kalman trend filter; feed it one (price, volume) pair per signal bar.

    Parameters mirror the strategy parameters of the same names (spec §10 rows 1-5 and
    the two extra flags). ``osc_smoothness`` is capped at 20 and ``strength_smoothness``
    at 500 as in the reference (§3.1 "effective smoothing periods").

    :meth:`update` returns the signed trend strength in [-100, 100]; it is exactly 0
    until ``strength_smoothness + osc_smoothness`` bars have been seen (bar 30 is the
    first possibly non-zero one with 15/15, bar 25 with 10/15).
    """

    __slots__ = (
        "r0", "q1", "q2", "n_osc", "n_str", "symmetric", "double_smoothing",
        "level", "velocity", "p00", "p01", "p10", "p11", "v_prev", "bars",
        "n_innov", "max_queue", "osc", "smooth1",
    )

    def __init__(
        self,
        *,
        measurement_noise: float,
        process_noise_1: float,
        process_noise_2: float,
        osc_smoothness: int,
        strength_smoothness: int,
        symmetric_volume_adjustment: bool = False,
        double_smoothing: bool = False,
    ) -> None:
        self.r0 = float(measurement_noise)
        self.q1 = float(process_noise_1)
        self.q2 = float(process_noise_2)
        self.n_osc = min(int(osc_smoothness), TREND_LOOKBACK)
        self.n_str = min(int(strength_smoothness), SIGMA_LOOKBACK)
        self.symmetric = bool(symmetric_volume_adjustment)
        self.double_smoothing = bool(double_smoothing)
        self.level = 0.0
        self.velocity = 0.0
        # P0 = identity (§3.1).
        self.p00, self.p01, self.p10, self.p11 = 1.0, 0.0, 0.0, 1.0
        self.v_prev = math.nan
        self.bars = 0
        # Innovation history: only its length (capped at 500) and its running max are
        # needed. A monotonic queue of (innovation number, |e|) gives the max of the last
        # 500 in O(1) amortised; ``max`` is exact, so this equals max() over a buffer.
        self.n_innov = 0
        self.max_queue: deque[tuple[int, float]] = deque()
        self.osc: deque[float] = deque(maxlen=TREND_LOOKBACK)
        self.smooth1: deque[float] = deque(maxlen=TREND_LOOKBACK)

    def measurement_noise_for(self, volume: float) -> float:
        """R for a bar with ``volume`` given the stored previous volume (§3.1 step 2).

        Non-symmetric (default): ``R0 * v_prev / max(v_prev, v)`` so noise only drops
        when volume rises; symmetric: ``R0 * v_prev / v``. With ``v <= 0``, a missing
        volume (NaN) or no previous volume the base ``R0`` is used. As in the
        reference, a *known* previous volume of 0 gives R = 0 (the filter then
        trusts the price fully); NaN counts as unknown.
        """
        v_prev = self.v_prev
        if volume > 0 and v_prev == v_prev:  # NaN-safe: NaN > 0 is False, NaN != NaN
            if self.symmetric:
                ratio = v_prev / volume
            else:
                ratio = v_prev / max(v_prev, volume)
            return self.r0 * ratio
        return self.r0

    def update(self, price: float, volume: float) -> float:
        """Add one bar and return the signed trend strength (§3.1 steps 1-6)."""
        price = float(price)
        volume = float(volume)
        if self.bars == 0:
            # First bar: x = [p1, 0], remember the volume, strength 0, no innovation.
            self.level = price
            self.velocity = 0.0
            self.v_prev = volume
            self.bars = 1
            return 0.0
        self.bars += 1
        # 1. Predict: x- = F x, P- = F P F' + Q with F = [[1, 1], [0, 1]].
        lvl = self.level + self.velocity
        vel = self.velocity
        p00, p01, p10, p11 = self.p00, self.p01, self.p10, self.p11
        m00 = ((p00 + p10) + (p01 + p11)) + self.q1
        m01 = p01 + p11
        m10 = p10 + p11
        m11 = p11 + self.q2
        # 2. Volume-adjusted measurement noise.
        r = self.measurement_noise_for(volume)
        # 3. Gain and innovation (H = [1, 0]).
        s = m00 + r
        k0 = m00 / s
        k1 = m10 / s
        e = price - lvl
        # 4. Update: x = x- + K e, P = (I - K H) P-.
        self.level = lvl + k0 * e
        self.velocity = vel + k1 * e
        self.p00 = (1.0 - k0) * m00
        self.p01 = (1.0 - k0) * m01
        self.p10 = m10 - k1 * m00
        self.p11 = m11 - k1 * m01
        # 5. Remember the volume.
        self.v_prev = volume
        # 6. Trend-strength oscillator.
        return self._strength(e)

    def _strength(self, e: float) -> float:
        a = abs(e)
        k = self.n_innov
        self.n_innov = k + 1
        q = self.max_queue
        while q and q[-1][1] <= a:
            q.pop()
        q.append((k, a))
        if q[0][0] <= k - SIGMA_LOOKBACK:
            q.popleft()
        # The gate uses the *strength* smoothing length, not the oscillator one (§3.1).
        if min(self.n_innov, SIGMA_LOOKBACK) < self.n_str:
            return 0.0
        m = q[0][1]
        osc = (e / m) * 100.0 if m > 0 else 0.0
        self.osc.append(osc)
        if len(self.osc) < self.n_osc:
            return 0.0
        s1 = _wma_tail(self.osc, self.n_osc)
        if self.double_smoothing:
            self.smooth1.append(s1)
            # With strength_smoothing > 20 this buffer never fills: s1 is used (§3.1).
            if len(self.smooth1) >= self.n_str:
                return _wma_tail(self.smooth1, self.n_str)
        return s1
