//! The Llama-style decoder of the paper (PAPER.md, "Known configuration"):
//! token embedding, N blocks of (RMSNorm → causal multi-head attention with
//! RoPE → residual, RMSNorm → SwiGLU MLP → residual), final RMSNorm, LM head
//! (untied unless the spec ties it). No biases, no GQA, no dropout.
//!
//! Generic over `B: Backend`; the concrete backend is chosen once, in
//! `train::backend`.

use burn::module::{Module, ModuleMapper, Param};
use burn::nn::{Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig};
use burn::tensor::activation::silu;
use burn::tensor::backend::Backend;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Int, Tensor, TensorData};

use super::rng::SplitMix64;
use crate::spec::model::Dims;

/// Everything needed to instantiate the decoder: the shape plus the numbers
/// the spec's `model` section carries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecoderShape {
    pub dims: Dims,
    pub vocab: u32,
    pub context: u32,
    pub rope_theta: f64,
    pub norm_eps: f64,
    pub init_std: f64,
    pub tied_embeddings: bool,
}

impl DecoderShape {
    /// The exact parameter count of what `init` allocates; the analytic
    /// formula lives in `Dims::parameters`, this is the one place that says
    /// which of its variants the decoder is.
    pub fn parameters(&self) -> u64 {
        self.dims.parameters(self.vocab, self.tied_embeddings)
    }

    /// Parameters that cost matmul FLOPs per token: everything but the
    /// embedding lookup (the LM head is a real matmul). The N of 6·N·T.
    pub fn flop_parameters(&self) -> u64 {
        self.dims.non_embedding_parameters() + self.vocab as u64 * self.dims.hidden as u64
    }

    /// Bytes of f32 activations the backward pass keeps for one micro-batch
    /// of `rows` sequences without checkpointing. Per token and layer: the
    /// block input and two norm outputs, q, k, v and their rotations, the
    /// attention output and its projection (≈ 12·hidden), gate, up, silu and
    /// product (4·ffn), and one attention row per head (heads·context); plus
    /// logits and log-probabilities (2·vocab). An estimate, not a
    /// measurement: it says why the paper needed checkpointing (≈ 145 GB
    /// per GPU at 32 × 768 tokens) and that `ci` needs none (≈ 73 MB).
    pub fn activation_bytes(&self, rows: usize) -> u64 {
        let (l, d, f, h) =
            (self.dims.layers as u64, self.dims.hidden as u64, self.dims.ffn as u64, self.dims.heads as u64);
        let t = self.context as u64;
        let per_token = l * (12 * d + 4 * f + h * t) + 2 * self.vocab as u64;
        4 * rows as u64 * t * per_token
    }

    /// The decoder with every matrix drawn from N(0, init_std) by a host
    /// RNG seeded with `seed` (gains start at 1): the same weights for the
    /// same seed on every backend and thread layout.
    pub fn init<B: Backend>(&self, device: &B::Device, seed: u64) -> Decoder<B> {
        let d = self.dims.hidden as usize;
        let vocab = self.vocab as usize;
        let embedding = EmbeddingConfig::new(vocab, d).with_initializer(Initializer::Zeros).init(device);
        let head = (!self.tied_embeddings).then(|| self.linear(d, vocab, device));
        let blocks = (0..self.dims.layers).map(|_| self.block(device)).collect();
        let zeros = Decoder {
            embedding,
            blocks,
            norm: RmsNorm::new(d, self.norm_eps, device),
            head,
            heads: self.dims.heads as usize,
            rope_theta: self.rope_theta,
        };
        zeros.map(&mut SeededNormal { rng: SplitMix64::new(seed), std: self.init_std })
    }

    fn linear<B: Backend>(&self, d_in: usize, d_out: usize, device: &B::Device) -> Linear<B> {
        LinearConfig::new(d_in, d_out).with_bias(false).with_initializer(Initializer::Zeros).init(device)
    }

    fn block<B: Backend>(&self, device: &B::Device) -> Block<B> {
        let (d, f) = (self.dims.hidden as usize, self.dims.ffn as usize);
        Block {
            attn_norm: RmsNorm::new(d, self.norm_eps, device),
            attn: Attention {
                q: self.linear(d, d, device),
                k: self.linear(d, d, device),
                v: self.linear(d, d, device),
                o: self.linear(d, d, device),
            },
            mlp_norm: RmsNorm::new(d, self.norm_eps, device),
            mlp: SwiGlu {
                gate: self.linear(d, f, device),
                up: self.linear(d, f, device),
                down: self.linear(f, d, device),
            },
        }
    }
}

/// Fills every matrix parameter, in module order, with N(0, std) draws.
struct SeededNormal {
    rng: SplitMix64,
    std: f64,
}

impl<B: Backend> ModuleMapper<B> for SeededNormal {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        if D < 2 {
            return param;
        }
        let (id, tensor, mapper) = param.consume();
        let shape = tensor.shape();
        let values: Vec<f32> =
            (0..shape.num_elements()).map(|_| (self.rng.normal() * self.std) as f32).collect();
        let fresh = Tensor::from_data(TensorData::new(values, shape), &tensor.device());
        let fresh = if tensor.is_require_grad() { fresh.require_grad() } else { fresh };
        Param::from_mapped_value(id, fresh, mapper)
    }
}

/// Root-mean-square norm with a learned gain (no mean subtraction, no bias).
#[derive(Module, Debug)]
pub struct RmsNorm<B: Backend> {
    pub gain: Param<Tensor<B, 1>>,
    pub eps: f64,
}

impl<B: Backend> RmsNorm<B> {
    pub fn new(d: usize, eps: f64, device: &B::Device) -> Self {
        Self { gain: Param::from_tensor(Tensor::ones([d], device)), eps }
    }

    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        let rms = (x.clone().powi_scalar(2).mean_dim(D - 1) + self.eps).sqrt();
        let gain = self.gain.val().unsqueeze::<D>();
        x / rms * gain
    }
}

/// Cosine and sine tables of rotary position embedding for `len` positions
/// and `head_dim` (even) channels, in the "rotate half" layout of Llama:
/// channel i and i + head_dim/2 form one rotating pair with frequency
/// theta^(-2i/head_dim). Shapes `[len, head_dim]`.
pub fn rope_tables<B: Backend>(
    len: usize,
    head_dim: usize,
    theta: f64,
    device: &B::Device,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let half = head_dim / 2;
    let mut cos = Vec::with_capacity(len * head_dim);
    let mut sin = Vec::with_capacity(len * head_dim);
    for pos in 0..len {
        for c in 0..head_dim {
            let i = c % half;
            let freq = theta.powf(-2.0 * i as f64 / head_dim as f64);
            let angle = pos as f64 * freq;
            cos.push(angle.cos() as f32);
            sin.push(angle.sin() as f32);
        }
    }
    let table = |v: Vec<f32>| Tensor::from_data(TensorData::new(v, [len, head_dim]), device);
    (table(cos), table(sin))
}

/// Rotates `x` of shape `[batch, heads, len, head_dim]` by its position:
/// x·cos + rotate_half(x)·sin, where rotate_half(a, b) = (−b, a).
pub fn apply_rope<B: Backend>(x: Tensor<B, 4>, cos: &Tensor<B, 2>, sin: &Tensor<B, 2>) -> Tensor<B, 4> {
    let [b, h, t, hd] = x.dims();
    let half = hd / 2;
    let first = x.clone().slice([0..b, 0..h, 0..t, 0..half]);
    let second = x.clone().slice([0..b, 0..h, 0..t, half..hd]);
    let rotated = Tensor::cat(vec![second.neg(), first], 3);
    let cos = cos.clone().slice([0..t, 0..hd]).unsqueeze::<4>();
    let sin = sin.clone().slice([0..t, 0..hd]).unsqueeze::<4>();
    x * cos + rotated * sin
}

#[derive(Module, Debug)]
pub struct Attention<B: Backend> {
    pub q: Linear<B>,
    pub k: Linear<B>,
    pub v: Linear<B>,
    pub o: Linear<B>,
}

impl<B: Backend> Attention<B> {
    /// Causal multi-head self-attention over `x: [batch, len, hidden]`.
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        heads: usize,
        cos: &Tensor<B, 2>,
        sin: &Tensor<B, 2>,
    ) -> Tensor<B, 3> {
        let [b, t, d] = x.dims();
        let hd = d / heads;
        let split = |y: Tensor<B, 3>| y.reshape([b, t, heads, hd]).swap_dims(1, 2);
        let q = apply_rope(split(self.q.forward(x.clone())), cos, sin);
        let k = apply_rope(split(self.k.forward(x.clone())), cos, sin);
        let v = split(self.v.forward(x));
        let options = AttentionModuleOptions { scale: None, softcap: None, is_causal: true };
        let y = attention(q, k, v, None, None, options);
        self.o.forward(y.swap_dims(1, 2).reshape([b, t, d]))
    }
}

/// SwiGLU feed-forward: down(silu(gate(x)) ⊙ up(x)).
#[derive(Module, Debug)]
pub struct SwiGlu<B: Backend> {
    pub gate: Linear<B>,
    pub up: Linear<B>,
    pub down: Linear<B>,
}

impl<B: Backend> SwiGlu<B> {
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        self.down.forward(silu(self.gate.forward(x.clone())) * self.up.forward(x))
    }
}

#[derive(Module, Debug)]
pub struct Block<B: Backend> {
    pub attn_norm: RmsNorm<B>,
    pub attn: Attention<B>,
    pub mlp_norm: RmsNorm<B>,
    pub mlp: SwiGlu<B>,
}

#[derive(Module, Debug)]
pub struct Decoder<B: Backend> {
    pub embedding: Embedding<B>,
    pub blocks: Vec<Block<B>>,
    pub norm: RmsNorm<B>,
    /// `None` when the embedding table doubles as the LM head.
    pub head: Option<Linear<B>>,
    pub heads: usize,
    pub rope_theta: f64,
}

impl<B: Backend> Decoder<B> {
    /// Logits `[batch, len, vocab]` for token ids `[batch, len]`.
    pub fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let [_, t] = tokens.dims();
        let device = tokens.device();
        let mut x = self.embedding.forward(tokens);
        let hd = x.dims()[2] / self.heads;
        let (cos, sin) = rope_tables::<B>(t, hd, self.rope_theta, &device);
        for block in &self.blocks {
            x = x.clone() + block.attn.forward(block.attn_norm.forward(x.clone()), self.heads, &cos, &sin);
            x = x.clone() + block.mlp.forward(block.mlp_norm.forward(x));
        }
        let x = self.norm.forward(x);
        match &self.head {
            Some(head) => head.forward(x),
            None => x.matmul(self.embedding.weight.val().transpose().unsqueeze::<3>()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::backend::CpuBackend as B;
    use approx::assert_relative_eq;
    use burn::tensor::Distribution;

    fn device() -> burn::tensor::Device<B> {
        Default::default()
    }

    fn values<const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
        t.into_data().to_vec::<f32>().expect("f32 tensor")
    }

    fn tiny(tied: bool) -> DecoderShape {
        DecoderShape {
            dims: Dims { layers: 2, hidden: 32, heads: 4, ffn: 88 },
            vocab: 61,
            context: 16,
            rope_theta: 10_000.0,
            norm_eps: 1e-6,
            init_std: 0.02,
            tied_embeddings: tied,
        }
    }

    #[test]
    fn rms_norm_gives_unit_rms_rows_times_gain() {
        let dev = device();
        let x = Tensor::<B, 2>::from_data([[3.0, 4.0], [1.0, -1.0]], &dev);
        let norm = RmsNorm::<B>::new(2, 0.0, &dev);
        let y = values(norm.forward(x));
        // Row [3, 4] has rms sqrt(12.5); row [1, -1] has rms 1.
        let r = 12.5f32.sqrt();
        for (got, want) in y.iter().zip([3.0 / r, 4.0 / r, 1.0, -1.0]) {
            assert_relative_eq!(*got, want, epsilon = 1e-6);
        }
        let mut norm = RmsNorm::<B>::new(2, 0.0, &dev);
        norm.gain = Param::from_tensor(Tensor::from_data([2.0, 0.5], &dev));
        let y = values(norm.forward(Tensor::<B, 2>::from_data([[1.0, -1.0]], &dev)));
        assert_relative_eq!(y[0], 2.0, epsilon = 1e-6);
        assert_relative_eq!(y[1], -0.5, epsilon = 1e-6);
    }

    #[test]
    fn rope_rotation_preserves_norms() {
        let dev = device();
        let x = Tensor::<B, 4>::random([1, 2, 8, 16], Distribution::Normal(0.0, 1.0), &dev);
        let (cos, sin) = rope_tables::<B>(8, 16, 10_000.0, &dev);
        let before = values(x.clone().powi_scalar(2).sum_dim(3));
        let after = values(apply_rope(x, &cos, &sin).powi_scalar(2).sum_dim(3));
        for (a, b) in before.iter().zip(&after) {
            assert_relative_eq!(a, b, max_relative = 1e-5);
        }
    }

    #[test]
    fn rope_scores_depend_only_on_relative_position() {
        // <R(m)q, R(n)k> must equal <R(m+s)q, R(n+s)k>: the same q and k
        // placed at positions (1, 4) and (6, 9) score the same.
        let dev = device();
        let q = Tensor::<B, 1>::random([16], Distribution::Normal(0.0, 1.0), &dev);
        let k = Tensor::<B, 1>::random([16], Distribution::Normal(0.0, 1.0), &dev);
        let (cos, sin) = rope_tables::<B>(12, 16, 10_000.0, &dev);
        let at = |v: &Tensor<B, 1>, pos: usize| {
            let seq = Tensor::<B, 2>::zeros([12, 16], &dev)
                .slice_assign([pos..pos + 1, 0..16], v.clone().unsqueeze::<2>());
            let rotated = apply_rope(seq.unsqueeze::<4>(), &cos, &sin);
            rotated.slice([0..1, 0..1, pos..pos + 1, 0..16]).reshape([16])
        };
        let score = |m: usize, n: usize| values((at(&q, m) * at(&k, n)).sum())[0];
        assert_relative_eq!(score(1, 4), score(6, 9), max_relative = 1e-4);
        // And rotation is not the identity: a different offset scores differently.
        assert!((score(1, 4) - score(1, 7)).abs() > 1e-4);
    }

    #[test]
    fn future_tokens_do_not_change_past_logits() {
        let dev = device();
        let model = tiny(false).init::<B>(&dev, 1);
        let a = Tensor::<B, 2, Int>::from_data([[5, 9, 13, 2, 40, 7]], &dev);
        let b = Tensor::<B, 2, Int>::from_data([[5, 9, 13, 60, 1, 33]], &dev);
        let la = values(model.forward(a));
        let lb = values(model.forward(b));
        let vocab = 61;
        // Positions 0..3 see the same prefix; their logits must agree exactly
        // up to float noise, and position 3 onwards must differ.
        for i in 0..3 * vocab {
            assert_relative_eq!(la[i], lb[i], epsilon = 1e-5);
        }
        let diff: f32 = (3 * vocab..4 * vocab).map(|i| (la[i] - lb[i]).abs()).sum();
        assert!(diff > 1e-4, "position 3 should see its own token");
    }

    #[test]
    fn swiglu_maps_hidden_to_hidden_through_ffn() {
        let dev = device();
        let shape = tiny(false);
        let block = shape.block::<B>(&dev);
        assert_eq!(block.mlp.gate.weight.dims(), [32, 88]);
        assert_eq!(block.mlp.up.weight.dims(), [32, 88]);
        assert_eq!(block.mlp.down.weight.dims(), [88, 32]);
        let x = Tensor::<B, 3>::ones([2, 5, 32], &dev);
        assert_eq!(block.mlp.forward(x).dims(), [2, 5, 32]);
    }

    #[rstest::rstest]
    #[case(false)]
    #[case(true)]
    fn instantiated_parameters_equal_the_analytic_count(#[case] tied: bool) {
        let shape = tiny(tied);
        let model = shape.init::<B>(&device(), 1);
        assert_eq!(model.num_params() as u64, shape.parameters());
        assert_eq!(
            shape.parameters(),
            shape.dims.parameters(shape.vocab, tied),
            "DecoderShape must use the spec's analytic count"
        );
    }

    #[test]
    fn init_is_seeded_with_the_spec_std_and_unit_gains() {
        let shape = tiny(false);
        let gate = |m: &Decoder<B>| values(m.blocks[0].mlp.gate.weight.val());
        let a = shape.init::<B>(&device(), 7);
        assert_eq!(gate(&a), gate(&shape.init::<B>(&device(), 7)));
        assert_ne!(gate(&a), gate(&shape.init::<B>(&device(), 8)));
        let w = gate(&a);
        let std = (w.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / w.len() as f64).sqrt();
        assert_relative_eq!(std, shape.init_std, max_relative = 0.1);
        assert!(values(a.blocks[1].attn_norm.gain.val()).iter().all(|g| *g == 1.0));
    }

    #[test]
    fn activation_estimate_grows_with_batch_and_quadratically_in_context() {
        let shape = tiny(false);
        assert_eq!(shape.activation_bytes(4), 4 * shape.activation_bytes(1));
        // Per token: 2 · (12·32 + 4·88 + 4·16) + 2·61 = 1722 floats; 16 tokens.
        assert_eq!(shape.activation_bytes(1), 4 * 16 * 1722);
    }

    #[test]
    fn logits_have_vocab_width() {
        let dev = device();
        let model = tiny(true).init::<B>(&dev, 1);
        let tokens = Tensor::<B, 2, Int>::from_data([[1, 2, 3], [4, 5, 6]], &dev);
        assert_eq!(model.forward(tokens).dims(), [2, 3, 61]);
    }
}
