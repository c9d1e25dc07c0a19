//! The decoder's pieces on the CPU training backend, at one replica's shape,
//! with the model's own code: each a closure that runs the piece forward and
//! backward (`backward()` seeds a gradient of ones; the PyTorch side passes
//! `ones_like(y)`).

use burn::tensor::activation;
use burn::tensor::{Distribution, Int, Tensor, TensorData};

use crate::train::backend::TrainBackend as B;
use crate::train::fused;
use crate::train::model::{causal_mask, Decoder, DecoderShape, MatmulPrecision, Pass, Rope};
use crate::train::step::summed_nll;

mod flex_softmax;

type Dev = burn::tensor::Device<B>;

/// One row of the per-op table.
pub struct Piece<'a> {
    pub name: &'static str,
    /// How often one replica's training step runs it.
    pub calls: usize,
    /// The key of the PyTorch op it is compared with (`ops` in the per-op script).
    pub torch: Option<&'static str>,
    pub run: Box<dyn Fn() + 'a>,
}

fn piece<'a, const D: usize>(
    name: &'static str,
    calls: usize,
    torch: Option<&'static str>,
    forward: impl Fn() -> Tensor<B, D> + 'a,
) -> Piece<'a> {
    Piece { name, calls, torch, run: Box::new(move || drop(forward().backward())) }
}

/// What the pieces read, made once: the model, one pass's tables and
/// random leaves at the shapes the pieces see inside the step.
pub struct Inputs {
    model: Decoder<B>,
    pass: Pass<B>,
    /// `[rows · len, hidden]`: a block's input.
    x: Tensor<B, 2>,
    tokens: Tensor<B, 2, Int>,
    /// `[rows, heads, len, head_dim]` each.
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    /// `[rows, heads, len, len]`: attention scores, and the same with the causal mask added.
    scores: Tensor<B, 4>,
    masked: Tensor<B, 4>,
    /// `[rows · len, ffn]`: the gate projection's output.
    gate: Tensor<B, 2>,
    /// `[rows, len, vocab]`.
    logits: Tensor<B, 3>,
    targets: Tensor<B, 2, Int>,
    weights: Tensor<B, 2>,
}

fn leaf<const D: usize>(shape: [usize; D], dev: &Dev) -> Tensor<B, D> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), dev).require_grad()
}

fn ids(rows: usize, len: usize, vocab: usize, step: usize, dev: &Dev) -> Tensor<B, 2, Int> {
    let values = (0..rows * len).map(|i| (i * step % vocab) as i64).collect::<Vec<_>>();
    Tensor::from_data(TensorData::new(values, [rows, len]), dev)
}

/// `scores + mask` as the model adds it: over whole flat rows.
fn add_mask(pass: &Pass<B>, scores: Tensor<B, 4>) -> Tensor<B, 4> {
    let [b, h, t, _] = scores.dims();
    (scores.reshape([b * h, t * t]) + pass.mask.clone()).reshape([b, h, t, t])
}

impl Inputs {
    pub fn new(shape: &DecoderShape, rows: usize, precision: MatmulPrecision) -> Self {
        let dev: Dev = Default::default();
        let (d, heads, ffn) =
            (shape.dims.hidden as usize, shape.dims.heads as usize, shape.dims.ffn as usize);
        let (len, vocab) = (shape.context as usize, shape.vocab as usize);
        let (n, hd) = (rows * len, d / heads);
        let pass = Pass {
            batch: rows,
            len,
            rope: Rope::new(rows, len, d, heads, shape.rope_theta, &dev),
            mask: causal_mask(len, &dev),
            precision,
        };
        let scores = leaf([rows, heads, len, len], &dev);
        let masked = Tensor::from_data(add_mask(&pass, scores.clone()).into_data(), &dev).require_grad();
        Self {
            model: shape.init::<B>(&dev, 1).with_precision(precision),
            x: leaf([n, d], &dev),
            tokens: ids(rows, len, vocab, 7, &dev),
            q: leaf([rows, heads, len, hd], &dev),
            k: leaf([rows, heads, len, hd], &dev),
            v: leaf([rows, heads, len, hd], &dev),
            scores,
            masked,
            gate: leaf([n, ffn], &dev),
            logits: leaf([rows, len, vocab], &dev),
            targets: ids(rows, len, vocab, 11, &dev),
            weights: Tensor::ones([rows, len], &dev),
            pass,
        }
    }

    /// Every piece, in the order a block runs them. Rows named "burn's
    /// decomposition" are burn's own functions, which the model replaced
    /// by one autodiff node each (`train::fused`); "flex's fused kernel"
    /// gives other bits and is not used.
    pub fn pieces(&self) -> Vec<Piece<'_>> {
        let (p, pr) = (&self.pass, self.pass.precision);
        let block = &self.model.blocks[0];
        let layers = self.model.blocks.len();
        let hd = self.q.dims()[3];
        let scale = 1.0 / (hd as f64).sqrt();
        let nll = |logits| summed_nll(logits, self.targets.clone(), self.weights.clone());
        vec![
            piece("embedding", 1, Some("embedding"), move || {
                self.model.embedding.forward(self.tokens.clone())
            }),
            piece("RMSNorm", 2 * layers + 1, Some("RMSNorm"), move || {
                block.attn_norm.forward(self.x.clone())
            }),
            piece("linear DxD (q/k/v/o)", 4 * layers, Some("linear DxD (q/k/v/o)"), move || {
                pr.linear(self.x.clone(), &block.attn.q)
            }),
            piece("RoPE", 2 * layers, Some("RoPE"), move || p.rope.apply(self.x.clone())),
            piece("q.k^T matmul", layers, Some("q.k^T matmul"), move || {
                pr.matmul(self.q.clone(), self.k.clone().swap_dims(2, 3))
            }),
            piece("scale + mask add", layers, Some("scale + mask add"), move || {
                add_mask(p, self.scores.clone().mul_scalar(scale))
            }),
            piece("attention softmax (one node)", layers, Some("attention softmax"), move || {
                fused::softmax(self.masked.clone(), 3)
            }),
            piece("attention softmax, burn's decomposition", layers, Some("attention softmax"), move || {
                activation::softmax(self.masked.clone(), 3)
            }),
            piece("attention softmax, flex's fused kernel", layers, Some("attention softmax"), move || {
                flex_softmax::softmax(self.masked.clone(), 3)
            }),
            piece("probs.v matmul", layers, Some("probs.v matmul"), move || {
                pr.matmul(self.scores.clone(), self.v.clone())
            }),
            piece("attention core (PyTorch: SDPA)", layers, Some("attention core"), move || {
                let scores = pr.matmul(self.q.clone(), self.k.clone().swap_dims(2, 3)).mul_scalar(scale);
                pr.matmul(fused::softmax(add_mask(p, scores), 3), self.v.clone())
            }),
            piece("attention block", layers, Some("attention block"), move || {
                block.attn.forward(self.x.clone(), p)
            }),
            piece("linear D->FF (gate/up)", 2 * layers, Some("linear D->FF (gate/up)"), move || {
                pr.linear(self.x.clone(), &block.mlp.gate)
            }),
            piece("SiLU (one node)", layers, Some("SiLU"), move || fused::silu(self.gate.clone())),
            piece("SiLU, burn's decomposition", layers, Some("SiLU"), move || {
                activation::silu(self.gate.clone())
            }),
            piece("linear FF->D (down)", layers, Some("linear FF->D (down)"), move || {
                pr.linear(self.gate.clone(), &block.mlp.down)
            }),
            piece("SwiGLU block", layers, Some("SwiGLU block"), move || {
                block.mlp.forward(self.x.clone(), pr)
            }),
            piece("residual add", 2 * layers, Some("residual add"), move || self.x.clone() + self.x.clone()),
            piece("LM head", 1, Some("LM head"), move || match &self.model.head {
                Some(head) => pr.linear(self.x.clone(), head),
                None => pr.matmul(self.x.clone(), self.model.embedding.weight.val().transpose()),
            }),
            piece("log-softmax (one node)", 1, Some("log-softmax"), move || {
                fused::log_softmax(self.logits.clone(), 2)
            }),
            piece("log-softmax, burn's decomposition", 1, Some("log-softmax"), move || {
                activation::log_softmax(self.logits.clone(), 2)
            }),
            piece("cross-entropy (log-softmax, gather, sum)", 1, Some("cross-entropy"), move || {
                nll(self.logits.clone())
            }),
            piece("one replica forward + backward", 1, Some("one replica"), move || {
                nll(self.model.forward(self.tokens.clone()))
            }),
        ]
    }
}
