//! The Taylor-model prover: affine models of the delta `d_n = z_n - Z_n` over tiles, iterated in
//! lockstep, with rigorous remainders (the parent module's doc gives the method and its
//! soundness argument).

use super::orbit_bounds::OrbitBounds;
use super::region::{Cell, Region};
use super::round::{ADD_ERR, Cx, MUL_ABS, MUL_ERR, Up};

/// The remainder a tile may inherit, for a tile as big as the whole region: a tile of radius
/// `rho_t` restarts from the whole region's last state whose remainder is below
/// `ROOT_TOLERANCE (rho_t / rho)^2` (its own quadratic term's scale), so small tiles restart
/// early and inherit (almost) nothing; a pixel restarts near update 0.
pub const ROOT_TOLERANCE: f64 = 1e-10;

/// Tile updates one proof may spend (including the catch-up of split tiles; about 0.4 s here);
/// past it the proof gives up (not proven).
pub const MAX_TILE_STEPS: u64 = 1 << 22;

/// The model of one tile after `n` updates: for every point `dc = t + u` of the cell,
/// `d_n(dc) = p + q u + e` with `|e| <= r`; `pa >= |p|`, `qa >= |q|`.
#[derive(Debug, Clone, Copy)]
struct Tile {
    cell: Cell,
    n: usize,
    p: Cx,
    q: Cx,
    r: Up,
    pa: Up,
    qa: Up,
}

impl Tile {
    fn new(cell: Cell, n: usize, p: Cx, q: Cx, r: Up) -> Self {
        Tile {
            cell,
            n,
            p,
            q,
            r,
            pa: p.abs_up(),
            qa: q.abs_up(),
        }
    }
}

/// What one tile's bounds say about update `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// `|z_n| <= 2` on the whole cell.
    Inside,
    /// `|z_n| > 2` on the whole cell.
    Escaped,
    /// Neither is proven.
    Undecided,
}

struct Prover<'a> {
    region: &'a Region,
    o: &'a OrbitBounds,
    max_iter: usize,
    steps: u64,
    budget: u64,
    /// The whole region's model after each update it proved inside (index = update).
    snaps: Vec<Tile>,
    /// `max(r_0 ..= r_k)` of `snaps`: non-decreasing, for the restart search.
    snap_r: Vec<f64>,
}

/// What a proof found, and the tile updates it spent.
#[derive(Debug, Clone, Copy)]
pub(super) struct Outcome {
    /// The count every point has, or `None`: not proven.
    pub(super) count: Option<u16>,
    /// Tile updates spent.
    pub(super) steps: u64,
}

/// The count every point of `region` has, if the bounds prove they all have the same one:
/// all escape on the same update `n` (count `n - 1`), or none within `max_iter` updates
/// (count `max_iter`). Not proven: a mixed or undecided update, the orbit ending first, more
/// than `budget` tile updates, or a bound that is not finite.
pub(super) fn prove_region(
    region: &Region,
    o: &OrbitBounds,
    max_iter: u32,
    budget: u64,
) -> Outcome {
    let mut prover = Prover {
        region,
        o,
        max_iter: max_iter as usize,
        steps: 0,
        budget,
        snaps: Vec::new(),
        snap_r: Vec::new(),
    };
    let count = prover.run();
    Outcome {
        count,
        steps: prover.steps,
    }
}

impl Prover<'_> {
    fn run(&mut self) -> Option<u16> {
        let zero = Cx::ZERO;
        let mut root = Tile::new(self.region.root(), 0, zero, zero, Up(0.0));
        // The whole region as one model while it is inside, keeping each state.
        self.keep(root);
        loop {
            if root.n == self.max_iter {
                return Some(self.max_iter as u16);
            }
            let next = self.advance(&root)?;
            match self.classify(&next) {
                Class::Escaped => return Some(root.n as u16),
                Class::Inside => {
                    root = next;
                    self.keep(root);
                }
                Class::Undecided => break,
            }
        }
        // Tiles restart from a kept state; updates up to `root.n` are proven inside.
        let mut tiles = Vec::new();
        for c in self.region.split(&root.cell)? {
            tiles.push(self.child(c, root.n)?);
        }
        let mut n = root.n;
        loop {
            if n == self.max_iter {
                return Some(self.max_iter as u16);
            }
            let (mut inside, mut escaped) = (false, false);
            let mut next = Vec::with_capacity(tiles.len());
            while let Some(tile) = tiles.pop() {
                let stepped = self.advance(&tile)?;
                match self.classify(&stepped) {
                    Class::Inside => {
                        inside = true;
                        next.push(stepped);
                    }
                    Class::Escaped => escaped = true,
                    Class::Undecided => {
                        // Smaller tiles, restarted from a kept state (a tight remainder) and
                        // brought to update n without checks (their ancestors proved those).
                        for c in self.region.split(&tile.cell)? {
                            tiles.push(self.child(c, n)?);
                        }
                    }
                }
                if inside && escaped {
                    return None;
                }
            }
            if escaped {
                return Some(n as u16);
            }
            tiles = next;
            n += 1;
        }
    }

    fn keep(&mut self, root: Tile) {
        let top = self.snap_r.last().map_or(0.0, |&r| r);
        // NaN cannot occur (advance refuses non-finite remainders); max keeps it monotone.
        self.snap_r.push(top.max(root.r.0));
        self.snaps.push(root);
    }

    /// The model of `cell` from the whole region's last kept state whose remainder is below
    /// `ROOT_TOLERANCE (rho_t / rho)^2` (update 0, remainder 0, at worst), advanced to update
    /// `n`: `p = p_b + q_b (t - t_b)`, `q = q_b`, `r = r_b` plus the rounding of `p`.
    fn child(&mut self, cell: Cell, n: usize) -> Option<Tile> {
        let scale = cell.rho.0 / self.snaps[0].cell.rho.0;
        let tol = ROOT_TOLERANCE * scale * scale;
        // Only states up to update n (in `run`, all kept states are).
        let kept = &self.snap_r[..self.snap_r.len().min(n + 1)];
        let k = kept.partition_point(|&r| r <= tol).saturating_sub(1);
        let base = self.snaps[k];
        let dt = cell.t - base.cell.t; // |err| <= ADD_ERR |dt|
        let p = base.p + base.q * dt;
        let round =
            Up(MUL_ERR + ADD_ERR) * base.qa * dt.abs1_up() + MUL_ABS + p.abs1_up() * ADD_ERR;
        let mut tile = Tile::new(cell, base.n, p, base.q, base.r + round);
        while tile.n < n {
            tile = self.advance(&tile)?;
        }
        Some(tile)
    }

    /// One update of a tile's model, `n -> n + 1`, from `d <- 2 Z_n d + d^2 + dc`.
    ///
    /// With `d = p + q u + e`, `Z_n = Zf_n + zeta` (`|zeta| <= delta_n`):
    /// `p' = (2 Zf + p) p + t`, `q' = 2 (Zf + p) q + 1`, and the remainder
    /// `q^2 u^2 + 2 zeta (p + q u) + 2 (Zf + zeta) e + 2 (p + q u) e + e^2` plus the f64
    /// rounding of `p'` and `q' u`. `None` when the orbit has no `Z_(n+1)`, the budget is spent,
    /// or a value is not finite.
    fn advance(&mut self, tile: &Tile) -> Option<Tile> {
        let k = tile.n;
        if k + 1 >= self.o.len() || self.steps >= self.budget {
            return None;
        }
        self.steps += 1;
        let (zf, za, dl) = (self.o.z[k], self.o.zabs[k], self.o.delta[k]);
        let (p, q, r, rho) = (tile.p, tile.q, tile.r, tile.cell.rho);
        let (pa, qa) = (tile.pa, tile.qa);
        let dm = pa + qa * rho; // >= |p + q u|
        // p' = (2 Zf + p) p + t: the sum m, the product, the sum with t. Rounding terms use
        // |.|_1 >= |.| (no square root; the slack is harmless at 2^-50).
        let m = zf.double() + p;
        let p1 = m * p + tile.cell.t;
        let r_p = Up(MUL_ERR + ADD_ERR) * m.abs1_up() * pa + MUL_ABS + p1.abs1_up() * ADD_ERR;
        // q' = 2 (Zf + p) q + 1.
        let s = zf + p;
        let q1 = s.double() * q + Cx::ONE;
        let r_q =
            Up(2.0 * (MUL_ERR + ADD_ERR)) * s.abs1_up() * qa + MUL_ABS + q1.abs1_up() * ADD_ERR;
        let rem = (qa * rho).sq()
            + Up(2.0) * dl * dm
            + Up(2.0) * (za + dl) * r
            + Up(2.0) * dm * r
            + r.sq();
        let r1 = rem + r_p + r_q * rho;
        if !(r1.0.is_finite() && p1.is_finite() && q1.is_finite()) {
            return None;
        }
        Some(Tile::new(tile.cell, k + 1, p1, q1, r1))
    }

    /// Bounds `|z_n| = |Zf_n + p + q u + zeta + e|` over the cell: `W = Zf_n + p` (rounded),
    /// the spread `|q| rho`, and the error `delta_n + r + round(W)`.
    fn classify(&self, tile: &Tile) -> Class {
        let n = tile.n;
        let w = self.o.z[n] + tile.p;
        let err = self.o.delta[n] + tile.r + w.abs1_up() * ADD_ERR;
        let qa = tile.qa;
        let spread = qa * tile.cell.rho;
        if (w.abs_up() + spread + err).at_most(2.0) {
            return Class::Inside;
        }
        // `>` so that NaN is not an escape.
        if ((w.abs_dn() - spread) - err).0 > 2.0 {
            return Class::Escaped;
        }
        // |W + q u| is convex in u: its maximum over the box is at a corner.
        let (hx, hy) = tile.cell.half;
        let mut top = Up(0.0);
        for (sx, sy) in [(1.0, 1.0), (1.0, -1.0), (-1.0, 1.0), (-1.0, -1.0)] {
            let v = w + tile.q * Cx::new(sx * hx, sy * hy);
            top = top.max(v.abs_up() * (1.0 + ADD_ERR));
        }
        if (top + qa * tile.cell.rho * MUL_ERR + MUL_ABS + err).at_most(2.0) {
            Class::Inside
        } else {
            Class::Undecided
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::region::{Axis, half_extents};
    use super::*;
    use crate::exact::real::{Big, Prec};
    use crate::exact::{ExactReal, ExactStack, ReferenceOrbit};

    const BITS: usize = 512;

    fn big(x: f64) -> Big {
        ExactReal::from_f64(x).unwrap().to_big(64) // exact
    }

    /// The true `z_n` of `c = C + t + u` (the sum exact), directly in 512 bits (far beyond
    /// what the checks need).
    fn truth(stack: &ExactStack, t: Cx, u: Cx, n: usize) -> (Big, Big) {
        let ctx = Prec::new(BITS);
        let part =
            |c: &ExactReal, t: f64, u: f64| ctx.add(&ctx.add(&c.to_big(BITS), &big(t)), &big(u));
        let (cr, ci) = (
            part(&stack.center_re, t.re, u.re),
            part(&stack.center_im, t.im, u.im),
        );
        let (mut zr, mut zi) = (Big::ZERO, Big::ZERO);
        for _ in 0..n {
            let re = ctx.add(&ctx.sub(&ctx.sqr(&zr), &ctx.sqr(&zi)), &cr);
            let im = ctx.add(&(ctx.mul(&zr, &zi) << 1), &ci);
            (zr, zi) = (re, im);
        }
        (zr, zi)
    }

    /// `|z_n - (Zf_n + p + q u)| <= delta_n + r` at the box's corners, centre and one inner
    /// point (a numerical check of the remainder algebra, with 1e-9 of slack for its own
    /// f64 comparison); returns the largest ratio error / bound seen.
    fn check_encloses(stack: &ExactStack, o: &OrbitBounds, tile: &Tile) -> f64 {
        let ctx = Prec::new(BITS);
        let (hx, hy) = tile.cell.half;
        let mut worst = 0.0f64;
        for (a, b) in [
            (1.0, 1.0),
            (1.0, -1.0),
            (-1.0, 1.0),
            (-1.0, -1.0),
            (0.0, 0.0),
            (0.3, -0.7),
        ] {
            let u = Cx::new(a * hx, b * hy);
            let (zr, zi) = truth(stack, tile.cell.t, u, tile.n);
            let (zf, p, q) = (o.z[tile.n], tile.p, tile.q);
            // The model Zf_n + p + q u, exactly (512 bits hold these f64 sums and products).
            let qu_re = ctx.sub(
                &ctx.mul(&big(q.re), &big(u.re)),
                &ctx.mul(&big(q.im), &big(u.im)),
            );
            let qu_im = ctx.add(
                &ctx.mul(&big(q.re), &big(u.im)),
                &ctx.mul(&big(q.im), &big(u.re)),
            );
            let model_re = ctx.add(&ctx.add(&big(zf.re), &big(p.re)), &qu_re);
            let model_im = ctx.add(&ctx.add(&big(zf.im), &big(p.im)), &qu_im);
            let er = ctx.sub(&zr, &model_re).to_f64().value();
            let ei = ctx.sub(&zi, &model_im).to_f64().value();
            let err = er.hypot(ei);
            let bound = (o.delta[tile.n] + tile.r).0;
            assert!(
                err <= bound * (1.0 + 1e-9) + 1e-300,
                "update {}: error {err:e} above the bound {bound:e} at u = {u:?}",
                tile.n
            );
            worst = worst.max(err / bound);
        }
        worst
    }

    fn prover<'a>(region: &'a Region, o: &'a OrbitBounds, max_iter: u32) -> Prover<'a> {
        Prover {
            region,
            o,
            max_iter: max_iter as usize,
            steps: 0,
            budget: MAX_TILE_STEPS,
            snaps: Vec::new(),
            snap_r: Vec::new(),
        }
    }

    fn continuum(stack: &ExactStack, level: u64) -> Region {
        let (hx, hy) = half_extents(stack, level);
        Region {
            x: Axis::Continuum { h: hx },
            y: Axis::Continuum { h: hy },
        }
    }

    #[test]
    fn region_models_enclose_the_true_orbit() {
        // The notebook's centre (binary) and a decimal one, at a level where the region's
        // model runs far before it is undecided.
        let decimal = ExactStack {
            center_re: "-0.743645857047151".parse().unwrap(),
            center_im: "0.13182592380533".parse().unwrap(),
            ..ExactStack::default()
        };
        for stack in [ExactStack::default(), decimal] {
            let orbit = ReferenceOrbit::for_level(&stack, 139_000).unwrap();
            let o = OrbitBounds::new(&orbit, stack.max_iter);
            let region = continuum(&stack, 139_000);
            let mut pr = prover(&region, &o, stack.max_iter);
            let mut tile = Tile::new(region.root(), 0, Cx::ZERO, Cx::ZERO, Up(0.0));
            let mut worst = 0.0f64;
            while pr.classify(&tile) != Class::Undecided && tile.n < 260 {
                worst = worst.max(check_encloses(&stack, &o, &tile));
                pr.keep(tile);
                match pr.advance(&tile) {
                    Some(t) => tile = t,
                    None => break,
                }
            }
            assert!(tile.n > 200, "undecided at {}", tile.n);
            assert!(worst < 1.0, "{worst}");
            // A small tile restarted from a kept state, and a pixel.
            let cells = pr.region.split(&region.root()).unwrap();
            let small = pr.region.split(&cells[3]).unwrap()[1];
            for cell in [small, cells[0]] {
                let mut t = pr.child(cell, 150).unwrap();
                for _ in 0..60 {
                    check_encloses(&stack, &o, &t);
                    t = pr.advance(&t).unwrap();
                }
            }
        }
    }

    #[test]
    fn pixel_models_enclose_the_true_orbit() {
        let stack = ExactStack {
            height: 5,
            width: 7,
            ..ExactStack::default()
        };
        let orbit = ReferenceOrbit::for_level(&stack, 120_000).unwrap();
        let o = OrbitBounds::new(&orbit, stack.max_iter);
        let (hx, hy) = half_extents(&stack, 120_000);
        let region = Region {
            x: Axis::Pixels { n: 7, h: hx },
            y: Axis::Pixels { n: 5, h: hy },
        };
        let mut pr = prover(&region, &o, stack.max_iter);
        pr.keep(Tile::new(region.root(), 0, Cx::ZERO, Cx::ZERO, Up(0.0)));
        let mut cells = vec![region.root()];
        while let Some(c) = cells.pop() {
            if let Some(kids) = region.split(&c) {
                cells.extend(kids);
                continue;
            }
            let mut t = pr.child(c, 0).unwrap();
            while t.n < 251 {
                t = pr.advance(&t).unwrap();
                if t.n % 10 == 1 {
                    check_encloses(&stack, &o, &t);
                }
            }
        }
    }
}
