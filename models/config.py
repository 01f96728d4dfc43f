"""Model configuration: one frozen dataclass, validated on construction."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from pyro_causalmmm.errors import require as _check


@dataclass(frozen=True)
class ModelConfig:
    """Hyperparameters of the CausalMMM generative model and its amortized guide.

    Attributes
    ----------
    hidden: width of every hidden layer (decoder GRU state, edge MLP, encoder MLPs).
        The reference code uses 256; 64 trains about 10x faster on 2 cores with the
        same recovery on the paper's simulations.
    tau: temperature of the relaxed-Bernoulli (binary Gumbel) graph distribution,
        both prior and guide. Small tau gives near-binary z with high-variance
        gradients; the paper finds results stable unless tau is very small.
    lam: lambda, the weight of KL(q(z) || p(z)) in the ELBO. Default 1, the ELBO whose
        optimum is the Bayesian posterior: with calibrated edges the guide's logits start
        at the empirical-Bayes posterior and the prior holds the learned edge rates, so
        the paper's lambda = 100 only tempered the trained correction toward the prior
        (robustness matrix, seed 0: AUROC 0.998 / 0.739 / 0.935 and ECE 0.043 / 0.115 /
        0.038 on the paper / marketing / daily-funnel families at 100, against 0.998 /
        0.783 / 0.935 and 0.024 / 0.122 / 0.053 at 1). The paper's default is 100;
        the notes below are from the uncalibrated guide.
        It is the strength of the pull toward the prior edge probability. At the optimum
        logit q(z_ij) ~ logit(p0) + (log-likelihood gain of the edge) / lambda, so a large
        lambda keeps edge probabilities near p0 and the relaxed samples exploratory while
        preserving their ranking (AUROC 0.97 at lambda = 100 vs 0.93 at lambda = 1 on
        Simulation 2, seed 0, before the evidence refinement), at the price of
        probabilities closer to 0.5 (ACC at the 0.5 threshold is less stable).
    prior_edge_prob: prior probability of each off-diagonal edge. 0.5 is the paper's
        uniform prior; smaller values encode a sparsity belief.
    message_window: W, how many recent values of the sender (and receiver) the edge
        MLP sees, m_ij^t = f_edge([x_i^{t-W+1:t}, x_j^{t-W+1:t}]). W = 1 is the
        paper's equation. Messages read values, not hidden states, so Claim 1 holds
        exactly (hidden-state messages would leak a grand-parent's history along
        i -> k -> j into j even when z_ij = 0).
    linear_lags: L, lags of the z-gated per-shop linear term next to the recurrent
        term (a Bayesian sparse VAR inside the same likelihood; its per-shop
        coefficients have a N(0, linear_prior_scale^2) prior and are integrated out
        analytically). 0 switches the term off (the paper's pure decoder).
    linear_prior_scale: prior standard deviation of the linear coefficients
        (on standardized data).
    pred_steps: M, steps at the end of each training window predicted by feeding
        predictions back (burn-in teacher forcing before). 1 = pure one-step.
    encoder_lag_features: give the guide's edge MLP per-edge lagged statistics
        (lagged cross-correlations and the closed-form Bayesian evidence of each
        edge) next to the NRI node embeddings.
    evidence_refinements: passes that recompute each edge's Bayes factor with the other
        causes gated by the previous pass's edge probabilities (0 = drop-one factors
        against the full lag model). Used by the guide's features only.
    calibrate_edges: the guide's edge logits are the empirical-Bayes posterior log-odds of
        each edge's lag-test z-score (``guides.calibration``: a two-group model with an
        estimated null and learned edge rates (``edge_rates``), fitted across the training
        shops before SVI), plus the NRI encoder's correction bounded by
        ``correction_bound``; the model's graph prior takes the learned rates (a
        hierarchical prior on edge density instead of the fixed ``prior_edge_prob``).
        False is the previous guide: ``logit(prior_edge_prob) + log BF + MLP``, which the
        robustness matrix showed over-confident on sparse graphs (ECE 0.27-0.38) and
        free to overrule its own evidence.
    evidence_lags: lags 1..L tested per edge by the calibrated evidence (each lag count
        tested and the tests combined by ACAT). Chosen on the family matrix (evidence
        only, seeds 0-2, mean per-shop AUROC / ECE over 9 families): L = 3 gave 0.861 /
        0.071, 0.860 / 0.074, 0.857 / 0.079; L = 4 0.858 / 0.076, 0.857 / 0.071, 0.852 /
        0.081; L = 5 and 6 were lower again (0.854 / 0.082 and 0.852 / 0.088 on seed 0),
        even on the shared-population family whose effects reach lag 6 (its own lags
        and the refinement absorb the tail; more columns cost power at T = 100).
    evidence_ranks: the evidence also tests the rank-based normal scores of the series
        and combines both tests (robust to bursts, heavy tails and saturating responses).
    evidence_baseline: slow cosines (trend, slow seasonality) in every evidence
        regression, so a demand cycle that drives both a budget and GMV is not an edge.
    evidence_calendar: which of the model's own baseline columns (``models.baseline``:
        trend and Fourier seasonality; and the additive ``controls``) are always-on
        columns of every evidence regression, so the lag tests ask what the model asks
        (does cause i's history explain node j beyond j's own history, its other likely
        parents and its baseline?). "all": every one; "slow": all but the weekly
        harmonics (trend, yearly seasonality, controls); "off": none (before 0.10).
        Without them a yearly cycle or a control shared by a cause and its effect reads
        as an edge. Models saved before it existed load with "off".
    evidence_even: the evidence also runs the even test of ``guides.nonlinear`` (each
        cause's lags and folded scores as one block), so U- and V-shaped couplings that
        have no linear signal count (on the rank-based scores; see the module for the
        measured gains: non-monotone AUROC 0.59 -> 0.96, Lorenz-96 0.88 -> 0.96 at F = 10).
        Models saved before it existed load with False.
    evidence_products: the evidence also runs the product test of ``guides.nonlinear``
        (does cause i interact with another node: the Wald test of its pairwise products
        ``x_i^{t-1} x_k^{t-1}``), for couplings through products of parents (Lorenz-96
        AUROC 0.96 -> 1.00 at F = 10, 0.78 -> 0.94 at F = 40; the other families within
        0.004). Its regression has ``P ~ D^2 / 2`` columns and one ``P x P``
        eigendecomposition per shop, so its cost grows about as ``D^6``: switch it off
        for panels of many tens of nodes. Shops with fewer than ``P + 30`` steps skip it
        on their own. Models saved before it existed load with False.
    evidence_components: Gaussians in the alternative (edge present) density of the
        two-group model; the null is a Student-t whose tail weight is fitted.
    correction_bound: largest change, in log-odds, the trained NRI encoder may make to a
        calibrated edge logit (``bound * tanh(MLP)``); 0 (the default) reports the
        calibrated evidence as is. Chosen on the family matrix (3 seeds each): at 1 (with
        lambda = 1) the trained correction inverted the non-monotone family (AUROC 0.470
        against its evidence's 0.548) and lost 0.01-0.03 on population, both funnels and
        paper, gaining 0.016 only on marketing; mean AUROC 0.841 against 0.859 at 0, mean
        ECE 0.077 against 0.075. Where evidence is weak, a bounded correction still
        reorders edges whose calibrated logits are close.
    edge_rates: "edge" (default since 0.6): the two-group model's edge rate is learned per
        (cause, effect) pair across the shops, shrunk to its effect node's rate (a
        funnel step present in most shops lifts its weak-evidence edges, a pair rarely
        present lowers them); "effect": one rate per effect node (0.5). Chosen on the
        family matrix (evidence only, 3 seeds, AUROC / ECE): population 0.944 / 0.020 ->
        0.962 / 0.013, daily funnel 0.940 / 0.036 -> 0.958 / 0.032, weekly funnel 0.966 /
        0.035 -> 0.972 / 0.034, Lorenz-96 F = 40 0.944 / 0.054 -> 0.943 / 0.042, paper
        0.995 / 0.032 -> 0.996 / 0.027, marketing 0.811 / 0.125 -> 0.808 / 0.123, the
        others within 0.001 / 0.002 (``benchmarks/evidence_variants.md``).
    evidence_alternative: "effect" (default since 0.10): the two-group model's alternative
        density (how strong a real edge's evidence is) is per effect node, shrunk to the
        shared one by 20 pseudo-edges (``guides.calibration.fit_two_group_df``), so the
        weak real edges into a node that only weak causes reach (the last step of a
        funnel) are not judged against the strong edges into the other nodes; "shared":
        one alternative for every node (before 0.10). Models saved before it existed keep
        their stored curves and load with "shared".
    seasonality: Fourier harmonics of each seasonal period in every node's baseline
        (``models.baseline``: weekly for data with a step under a week, yearly for panels
        spanning 120 days or more); 0 switches seasonality off.
    trend: a linear trend column in every node's baseline.
    same_period: same-period edges (``models.design``): "on" (from the spend channels
        into every other node), "funnel" (also among the other nodes in the order the
        data lists them, channels first and the target last: each one's current value
        may enter every later one, so a within-week chain such as page views -> search
        clicks -> GMV is seen; the order is an assumption, as the recursive ordering of
        a structural VAR, since the data cannot orient a same-period edge: list the
        intermediate metrics in funnel order, or choose "on"), "off" (lagged edges
        only), or "auto" (the default), which the fit resolves from the data's step:
        "funnel" for weekly or coarser data, where most of a spend's effect, and of
        what it moves, lands in the week it is spent; "off" for daily data, whose
        effects the lags already see (and where same-day columns would also absorb
        same-day shocks that move a budget and the target together). On the daily
        funnel "funnel" sizes the channels better (median abs log ratio 0.54 against
        0.59), but on the daily families of the edge matrix it ranks edges worse (paper
        0.996 -> 0.988, population 0.962 -> 0.954; benchmarks/notes.md, stop 26), so
        daily data keep "off". The fitted model stores "on", "off" or "funnel".
    response: how a spend channel's values enter the linear term: "linear" (its lags as
        they are) or "hill" (each lag through a saturating Hill curve of shape 1 whose
        half-saturation point, in units of the channel's mean spend, is shared by all
        shops and chosen per channel by the pooled evidence; ``models.design.saturating``,
        ``models.response``), so response curves bend and switching a channel off does
        not extrapolate a straight line. Models saved before it existed load with
        "linear".
    effect_pooling: "shops" (default since 0.7): after the fit, the linear coefficients
        get an empirical-Bayes prior pooled over the panel's shops (``models.pooling``:
        per effect node and design column a normal prior whose mean and spread are the
        shops' own estimates', less their noise), used by contributions, ROAS, response
        curves, plans and forecasts; the graph's evidence keeps ``N(0, s^2)``. "none":
        each shop's coefficients from its own data alone (0.6). Models saved before it
        existed load with "none".
    controls: context columns that enter every responding node's baseline as additive
        controls (price, competitor activity, events) instead of shaping the S-curve;
        controls are causes of the nodes, never effects. Set by ``fit`` from ``--controls``.
    full_graph: ablation CM-FULL, z = 1 on every off-diagonal edge (no graph learning).
    markov: ablation CM-MARKOV, no recurrent state: each step sees only the last step.
    no_saturation: ablation CM-RW, the target is read out directly, no Hill S-curve.
    """

    hidden: int = 64
    tau: float = 0.5
    lam: float = 1.0
    prior_edge_prob: float = 0.5
    message_window: int = 3
    linear_lags: int = 3
    linear_prior_scale: float = 0.5
    pred_steps: int = 1
    encoder_lag_features: bool = True
    evidence_refinements: int = 1
    calibrate_edges: bool = True
    evidence_lags: int = 3
    evidence_ranks: bool = True
    evidence_baseline: int = 0
    evidence_calendar: str = "off"
    evidence_components: int = 1
    evidence_even: bool = True
    evidence_products: bool = True
    correction_bound: float = 0.0
    edge_rates: str = "edge"
    evidence_alternative: str = "effect"
    seasonality: int = 2
    trend: bool = True
    same_period: str = "auto"
    response: str = "linear"
    effect_pooling: str = "shops"
    controls: tuple[str, ...] = ()
    full_graph: bool = False
    markov: bool = False
    no_saturation: bool = False

    def __post_init__(self) -> None:
        _check(self.hidden >= 1, "hidden", self.hidden, "an integer >= 1")
        _check(self.tau > 0, "tau", self.tau, "> 0")
        _check(self.lam >= 0, "lam", self.lam, ">= 0")
        _check(0 < self.prior_edge_prob < 1, "prior_edge_prob", self.prior_edge_prob, "in (0, 1)")
        _check(self.message_window >= 1, "message_window", self.message_window, ">= 1")
        _check(self.linear_lags >= 0, "linear_lags", self.linear_lags, ">= 0")
        _check(self.linear_prior_scale > 0, "linear_prior_scale", self.linear_prior_scale, "> 0")
        _check(self.pred_steps >= 1, "pred_steps", self.pred_steps, ">= 1")
        _check(self.evidence_lags >= 1, "evidence_lags", self.evidence_lags, ">= 1")
        _check(
            self.evidence_components >= 1, "evidence_components", self.evidence_components, ">= 1"
        )
        _check(self.evidence_baseline >= 0, "evidence_baseline", self.evidence_baseline, ">= 0")
        _check(self.seasonality >= 0, "seasonality", self.seasonality, ">= 0")
        _check(
            self.same_period in ("auto", "on", "off", "funnel"),
            "same_period",
            self.same_period,
            '"auto", "on", "off" or "funnel"',
        )
        _check(
            self.evidence_alternative in ("effect", "shared"), "evidence_alternative",
            self.evidence_alternative, '"effect" or "shared"',
        )
        _check(
            self.evidence_calendar in ("all", "slow", "off"), "evidence_calendar",
            self.evidence_calendar, '"all", "slow" or "off"',
        )
        _check(
            self.response in ("linear", "hill"), "response", self.response, '"linear" or "hill"'
        )
        _check(
            self.effect_pooling in ("shops", "none"), "effect_pooling", self.effect_pooling,
            '"shops" or "none"',
        )
        object.__setattr__(self, "controls", tuple(str(c) for c in self.controls))
        _check(
            len(set(self.controls)) == len(self.controls),
            "controls",
            self.controls,
            "distinct column names",
        )
        _check(self.correction_bound >= 0, "correction_bound", self.correction_bound, ">= 0")
        _check(
            self.edge_rates in ("effect", "edge"), "edge_rates", self.edge_rates,
            '"effect" or "edge"',
        )
        _check(
            self.evidence_refinements >= 0,
            "evidence_refinements",
            self.evidence_refinements,
            ">= 0",
        )

    @property
    def max_lag(self) -> int:
        """Steps of history needed before the first step whose prediction is scored."""
        return max(self.message_window, self.linear_lags, 1)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        # a model saved before calibrated edges existed used the uncalibrated guide
        d = {"calibrate_edges": False, "evidence_even": False, "evidence_products": False, **d}
        # before 0.10: no baseline in the evidence, one alternative density for every node
        d = {"evidence_calendar": "off", "evidence_alternative": "shared", **d}
        # ... and one saved before the baseline existed had none (no trend, no seasons,
        # lagged edges only)
        if "seasonality" not in d:
            d = {"seasonality": 0, "trend": False, "same_period": "off", **d}
        d = {"response": "linear", **d}  # saved before the saturating response existed
        d = {"edge_rates": "effect", **d}  # before 0.6: one edge rate per effect node
        d = {"effect_pooling": "none", **d}  # before 0.7: no pooled coefficient prior
        d["controls"] = tuple(d.get("controls", ()))
        return cls(**d)
