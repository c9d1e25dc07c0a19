//! The Llama-style decoder of the paper (PAPER.md, "Known configuration"):
//! token embedding, N blocks of (RMSNorm → causal multi-head attention with
//! RoPE → residual, RMSNorm → SwiGLU MLP → residual), final RMSNorm, LM head
//! (untied unless the spec ties it). No biases, no GQA, no dropout.
//!
//! Generic over `B: Backend`; the concrete backend is chosen once, in
//! `train::backend`.

use burn::module::{Module, ModuleMapper, Param};
use burn::nn::{Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig};
use burn::tensor::backend::Backend;
use burn::tensor::{DType, Int, Tensor, TensorData};

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
            bf16_matmuls: false,
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

/// Marks every float parameter as trainable. With burn 0.21,
/// `Decoder::from_inner(model.valid())` comes back with parameters that do
/// not require gradients (checked: even straight after `init`), so a
/// data-parallel replica built that way would otherwise get none.
pub struct Trainable;

impl<B: Backend> ModuleMapper<B> for Trainable {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        Param::from_mapped_value(id, tensor.require_grad(), mapper)
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

/// Rotary position embedding for a flattened batch: `cos` and `sin` are
/// `[batch · len, hidden]`, each head's channels in the "rotate half" layout
/// of Llama (channel i and i + head_dim/2 of a head form one rotating pair
/// with frequency theta^(-2i/head_dim)), repeated over heads and sequences.
/// Full-size tables rather than broadcast ones: `flex` multiplies
/// same-shape tensors with SIMD but walks broadcast operands element by
/// element (measured 5x slower for RoPE at the `ci` shape).
pub struct Rope<B: Backend> {
    cos: Tensor<B, 2>,
    sin: Tensor<B, 2>,
    heads: usize,
}

impl<B: Backend> Rope<B> {
    pub fn new(
        batch: usize,
        len: usize,
        hidden: usize,
        heads: usize,
        theta: f64,
        device: &B::Device,
    ) -> Self {
        let head_dim = hidden / heads;
        let half = head_dim / 2;
        let mut cos = Vec::with_capacity(len * hidden);
        let mut sin = Vec::with_capacity(len * hidden);
        for pos in 0..len {
            for c in 0..hidden {
                let i = (c % head_dim) % half;
                let angle = pos as f64 * theta.powf(-2.0 * i as f64 / head_dim as f64);
                cos.push(angle.cos() as f32);
                sin.push(angle.sin() as f32);
            }
        }
        let table = |v: Vec<f32>| {
            Tensor::<B, 2>::from_data(TensorData::new(v, [len, hidden]), device)
                .unsqueeze::<3>()
                .repeat_dim(0, batch)
                .reshape([batch * len, hidden])
        };
        Self { cos: table(cos), sin: table(sin), heads }
    }

    /// Rotates `x: [batch · len, hidden]` by position: x·cos + rotate_half(x)·sin,
    /// where rotate_half(a, b) = (−b, a) within each head.
    pub fn apply(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let [n, d] = x.dims();
        let half = d / self.heads / 2;
        let pairs = x.clone().reshape([n, self.heads, 2, half]);
        let first = pairs.clone().slice([0..n, 0..self.heads, 0..1, 0..half]);
        let second = pairs.slice([0..n, 0..self.heads, 1..2, 0..half]);
        let rotated = Tensor::cat(vec![second.neg(), first], 2).reshape([n, d]);
        x * self.cos.clone() + rotated * self.sin.clone()
    }
}

/// Additive causal mask `[1, len · len]`: 0 on and below the diagonal, −∞
/// above. Flat so adding it to scores viewed as `[batch · heads, len · len]`
/// broadcasts over whole contiguous rows (the fast path of `flex`).
pub fn causal_mask<B: Backend>(len: usize, device: &B::Device) -> Tensor<B, 2> {
    let values: Vec<f32> =
        (0..len * len).map(|i| if i % len > i / len { f32::NEG_INFINITY } else { 0.0 }).collect();
    Tensor::from_data(TensorData::new(values, [1, len * len]), device)
}

/// Where matrix products run. `Bf16` is mixed precision by hand (Burn has
/// no autocast): weights, optimizer state, norms, softmax and the loss stay
/// f32; each matmul casts its operands to bf16 and its result back, and the
/// casts are differentiable, so gradients reach the f32 weights.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MatmulPrecision {
    #[default]
    F32,
    Bf16,
}

impl MatmulPrecision {
    pub(crate) fn matmul<B: Backend, const D: usize>(self, a: Tensor<B, D>, b: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            Self::F32 => a.matmul(b),
            Self::Bf16 => a.cast(DType::BF16).matmul(b.cast(DType::BF16)).cast(DType::F32),
        }
    }

    /// `x · W` for a bias-free linear layer.
    pub(crate) fn linear<B: Backend>(self, x: Tensor<B, 2>, layer: &Linear<B>) -> Tensor<B, 2> {
        self.matmul(x, layer.weight.val())
    }
}

/// What every block of one forward pass shares.
pub(crate) struct Pass<B: Backend> {
    pub(crate) batch: usize,
    pub(crate) len: usize,
    pub(crate) rope: Rope<B>,
    pub(crate) mask: Tensor<B, 2>,
    pub(crate) precision: MatmulPrecision,
}

#[derive(Module, Debug)]
pub struct Attention<B: Backend> {
    pub q: Linear<B>,
    pub k: Linear<B>,
    pub v: Linear<B>,
    pub o: Linear<B>,
}

impl<B: Backend> Attention<B> {
    /// Causal multi-head self-attention over `x: [batch · len, hidden]`.
    pub(crate) fn forward(&self, x: Tensor<B, 2>, pass: &Pass<B>) -> Tensor<B, 2> {
        let (b, t, p) = (pass.batch, pass.len, pass.precision);
        let [n, d] = x.dims();
        let heads = pass.rope.heads;
        let hd = d / heads;
        let split = |y: Tensor<B, 2>| y.reshape([b, t, heads, hd]).swap_dims(1, 2);
        let q = split(pass.rope.apply(p.linear(x.clone(), &self.q)));
        let k = split(pass.rope.apply(p.linear(x.clone(), &self.k)));
        let v = split(p.linear(x, &self.v));
        let scores = p.matmul(q, k.swap_dims(2, 3)).mul_scalar(1.0 / (hd as f64).sqrt());
        let scores = (scores.reshape([b * heads, t * t]) + pass.mask.clone()).reshape([b, heads, t, t]);
        let y = p.matmul(super::fused::softmax(scores, 3), v);
        p.linear(y.swap_dims(1, 2).reshape([n, d]), &self.o)
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
    pub(crate) fn forward(&self, x: Tensor<B, 2>, p: MatmulPrecision) -> Tensor<B, 2> {
        p.linear(super::fused::silu(p.linear(x.clone(), &self.gate)) * p.linear(x, &self.up), &self.down)
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
    /// Matmuls in bf16 (mixed precision); see [`MatmulPrecision`].
    pub bf16_matmuls: bool,
}

impl<B: Backend> Decoder<B> {
    pub fn with_precision(mut self, precision: MatmulPrecision) -> Self {
        self.bf16_matmuls = precision == MatmulPrecision::Bf16;
        self
    }

    pub fn precision(&self) -> MatmulPrecision {
        if self.bf16_matmuls {
            MatmulPrecision::Bf16
        } else {
            MatmulPrecision::F32
        }
    }

    /// Logits `[batch, len, vocab]` for token ids `[batch, len]`. Inside,
    /// activations are `[batch · len, hidden]`: every linear layer is one
    /// 2-D matmul instead of a broadcast batched one.
    pub fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let [b, t] = tokens.dims();
        let device = tokens.device();
        let d = self.norm.gain.dims()[0];
        let pass = Pass {
            batch: b,
            len: t,
            rope: Rope::new(b, t, d, self.heads, self.rope_theta, &device),
            mask: causal_mask(t, &device),
            precision: self.precision(),
        };
        let mut x = self.embedding.forward(tokens).reshape([b * t, d]);
        for block in &self.blocks {
            x = x.clone() + block.attn.forward(block.attn_norm.forward(x.clone()), &pass);
            x = x.clone() + block.mlp.forward(block.mlp_norm.forward(x), pass.precision);
        }
        let x = self.norm.forward(x);
        let logits = match &self.head {
            Some(head) => pass.precision.linear(x, head),
            None => pass.precision.matmul(x, self.embedding.weight.val().transpose()),
        };
        let vocab = logits.dims()[1];
        logits.reshape([b, t, vocab])
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
    fn rope_rotation_preserves_norms_per_head() {
        let dev = device();
        let (len, hidden, heads) = (8, 32, 2);
        let x = Tensor::<B, 2>::random([len, hidden], Distribution::Normal(0.0, 1.0), &dev);
        let rope = Rope::<B>::new(1, len, hidden, heads, 10_000.0, &dev);
        let per_head = |t: Tensor<B, 2>| values(t.reshape([len, heads, 16]).powi_scalar(2).sum_dim(2));
        let (before, after) = (per_head(x.clone()), per_head(rope.apply(x.clone())));
        for (a, b) in before.iter().zip(&after) {
            assert_relative_eq!(a, b, max_relative = 1e-5);
        }
        // Position 0 is not rotated; later positions are.
        let rotated = values(rope.apply(x.clone()));
        let plain = values(x);
        assert!(rotated[..hidden].iter().zip(&plain[..hidden]).all(|(a, b)| (a - b).abs() < 1e-6));
        assert!(rotated[hidden..].iter().zip(&plain[hidden..]).any(|(a, b)| (a - b).abs() > 1e-3));
    }

    #[test]
    fn rope_repeats_over_the_batch() {
        let dev = device();
        let x = Tensor::<B, 2>::random([5, 16], Distribution::Normal(0.0, 1.0), &dev);
        let one = values(Rope::<B>::new(1, 5, 16, 1, 10_000.0, &dev).apply(x.clone()));
        let two =
            values(Rope::<B>::new(2, 5, 16, 1, 10_000.0, &dev).apply(Tensor::cat(vec![x.clone(), x], 0)));
        assert_eq!(&two[..80], &one[..]);
        assert_eq!(&two[80..], &one[..]);
    }

    #[test]
    fn rope_scores_depend_only_on_relative_position() {
        // <R(m)q, R(n)k> must equal <R(m+s)q, R(n+s)k>: the same q and k
        // placed at positions (1, 4) and (6, 9) score the same.
        let dev = device();
        let q = Tensor::<B, 1>::random([16], Distribution::Normal(0.0, 1.0), &dev);
        let k = Tensor::<B, 1>::random([16], Distribution::Normal(0.0, 1.0), &dev);
        let rope = Rope::<B>::new(1, 12, 16, 1, 10_000.0, &dev);
        let at = |v: &Tensor<B, 1>, pos: usize| {
            let seq = Tensor::<B, 2>::zeros([12, 16], &dev)
                .slice_assign([pos..pos + 1, 0..16], v.clone().unsqueeze::<2>());
            rope.apply(seq).slice([pos..pos + 1, 0..16]).reshape([16])
        };
        let score = |m: usize, n: usize| values((at(&q, m) * at(&k, n)).sum())[0];
        assert_relative_eq!(score(1, 4), score(6, 9), max_relative = 1e-4);
        // And rotation is not the identity: a different offset scores differently.
        assert!((score(1, 4) - score(1, 7)).abs() > 1e-4);
    }

    #[test]
    fn attention_equals_burns_causal_attention_op() {
        use burn::tensor::module::attention;
        use burn::tensor::ops::AttentionModuleOptions;
        let dev = device();
        let (b, t, d, heads) = (2, 6, 32, 4);
        let block = tiny(false).init::<B>(&dev, 5).blocks.remove(0);
        let x = Tensor::<B, 2>::random([b * t, d], Distribution::Normal(0.0, 1.0), &dev);
        let pass = Pass {
            batch: b,
            len: t,
            rope: Rope::new(b, t, d, heads, 10_000.0, &dev),
            mask: causal_mask(t, &dev),
            precision: MatmulPrecision::F32,
        };
        let ours = values(block.attn.forward(x.clone(), &pass));
        let split = |y: Tensor<B, 2>| y.reshape([b, t, heads, d / heads]).swap_dims(1, 2);
        let project = |layer: &Linear<B>| x.clone().matmul(layer.weight.val());
        let q = split(pass.rope.apply(project(&block.attn.q)));
        let k = split(pass.rope.apply(project(&block.attn.k)));
        let v = split(project(&block.attn.v));
        let options = AttentionModuleOptions { scale: None, softcap: None, is_causal: true };
        let y = attention(q, k, v, None, None, options).swap_dims(1, 2).reshape([b * t, d]);
        let reference = values(y.matmul(block.attn.o.weight.val()));
        for (a, r) in ours.iter().zip(&reference) {
            assert_relative_eq!(a, r, epsilon = 1e-5);
        }
    }

    #[test]
    fn causal_mask_hides_exactly_the_future() {
        let mask = values(causal_mask::<B>(3, &device()));
        let inf = f32::NEG_INFINITY;
        assert_eq!(mask, vec![0.0, inf, inf, 0.0, 0.0, inf, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn bf16_matmuls_round_but_stay_close_to_f32() {
        let dev = device();
        let model = tiny(false).init::<B>(&dev, 3);
        let tokens = Tensor::<B, 2, Int>::from_data([[5, 9, 13, 2, 40, 7]], &dev);
        let full = values(model.forward(tokens.clone()));
        let mixed = model.with_precision(MatmulPrecision::Bf16).forward(tokens);
        assert_eq!(mixed.dtype(), DType::F32, "logits return to f32 for the loss");
        let mixed = values(mixed);
        let scale = full.iter().map(|v| v.abs()).fold(0.0f32, f32::max);
        let worst = full.iter().zip(&mixed).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        // bf16 keeps 8 significant bits: errors of ~2^-8 relative, not zero.
        assert!(worst > 0.0, "bf16 matmuls must actually round");
        assert!(worst < 0.05 * scale, "bf16 error {worst} too large against logit scale {scale}");
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
        let x = Tensor::<B, 2>::ones([10, 32], &dev);
        assert_eq!(block.mlp.forward(x, MatmulPrecision::F32).dims(), [10, 32]);
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
