//! AdamW with the usual no-decay set, global-norm gradient clipping.
//!
//! Burn's `AdamW` applies one weight decay to every parameter and its
//! gradient clipping works per tensor; the paper's recipe (PAPER.md: AdamW,
//! weight decay 0.1, clip 1.0) is the GPT/Llama one: decay the matrices, not
//! the RMSNorm gains, and clip the *global* gradient norm. So the gradients
//! are split by rank (rank 1 = norm gains, the only vectors this decoder has)
//! and fed to two AdamW instances, one with and one without decay.

use std::marker::PhantomData;

use anyhow::{Context, Result};
use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{AdamW, AdamWConfig, GradientsParams, Optimizer};
use burn::prelude::ElementConversion;
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Tensor;

use crate::spec::train::AdamW as AdamWSpec;

/// Global L2 norm of all gradients present in `grads` for `module`'s parameters.
pub fn global_grad_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: &GradientsParams,
) -> f64 {
    struct SumSquares<'a, B: AutodiffBackend> {
        grads: &'a GradientsParams,
        sum: Option<Tensor<B::InnerBackend, 1>>,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for SumSquares<'_, B> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
                let sq = g.powi_scalar(2).sum();
                self.sum = Some(match self.sum.take() {
                    Some(acc) => acc + sq,
                    None => sq,
                });
            }
        }
    }
    let mut visitor = SumSquares::<B> { grads, sum: None };
    module.visit(&mut visitor);
    visitor.sum.map(|s| s.into_scalar().elem::<f64>().sqrt()).unwrap_or(0.0)
}

/// Multiplies every gradient of `module` in `grads` by `factor`.
fn scale_grads<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: &mut GradientsParams,
    factor: f64,
) {
    struct Scale<'a, B> {
        grads: &'a mut GradientsParams,
        factor: f64,
        _b: PhantomData<B>,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Scale<'_, B> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
                self.grads.register(param.id, g.mul_scalar(self.factor));
            }
        }
    }
    module.visit(&mut Scale::<B> { grads, factor, _b: PhantomData });
}

/// Clips `grads` to global norm `max_norm` (no-op when `max_norm <= 0`).
/// Returns the norm before clipping, which is what the metrics report.
pub fn clip_global_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
) -> f64 {
    let norm = global_grad_norm(module, grads);
    if max_norm > 0.0 && norm.is_finite() && norm > max_norm {
        // The 1e-6 guard is the one torch.nn.utils.clip_grad_norm_ uses.
        scale_grads(module, grads, max_norm / (norm + 1e-6));
    }
    norm
}

/// Moves the gradients of parameters exempt from weight decay (rank-1:
/// RMSNorm gains; this decoder has no biases) out of `grads`.
fn split_no_decay<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: &mut GradientsParams,
) -> GradientsParams {
    struct Split<'a, B> {
        grads: &'a mut GradientsParams,
        no_decay: GradientsParams,
        _b: PhantomData<B>,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Split<'_, B> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if D == 1 {
                if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
                    self.no_decay.register(param.id, g);
                }
            }
        }
    }
    let mut split = Split::<B> { grads, no_decay: GradientsParams::new(), _b: PhantomData };
    module.visit(&mut split);
    split.no_decay
}

type Recorder32 = BinBytesRecorder<FullPrecisionSettings>;

/// The two AdamW instances (decayed matrices, undecayed gains).
pub struct DecoupledAdamW<B: AutodiffBackend, M: AutodiffModule<B>> {
    decay: OptimizerAdaptor<AdamW, M, B>,
    no_decay: OptimizerAdaptor<AdamW, M, B>,
}

impl<B: AutodiffBackend, M: AutodiffModule<B>> DecoupledAdamW<B, M> {
    pub fn new(spec: &AdamWSpec) -> Self {
        let config = |wd: f64| {
            AdamWConfig::new()
                .with_beta_1(spec.beta1 as f32)
                .with_beta_2(spec.beta2 as f32)
                .with_epsilon(spec.eps as f32)
                .with_weight_decay(wd as f32)
        };
        Self { decay: config(spec.weight_decay).init(), no_decay: config(0.0).init() }
    }

    /// One update with learning rate `lr`; `grads` should already be clipped.
    pub fn step(&mut self, lr: f64, module: M, mut grads: GradientsParams) -> M {
        let no_decay = split_no_decay(&module, &mut grads);
        let module = self.decay.step(lr, module, grads);
        self.no_decay.step(lr, module, no_decay)
    }

    /// Serialized moment estimates of both instances (for checkpoints).
    pub fn to_bytes(&self) -> Result<(Vec<u8>, Vec<u8>)> {
        let rec = Recorder32::default();
        let decay = Recorder::<B>::record(&rec, self.decay.to_record(), ())
            .context("cannot serialize the optimizer state")?;
        let no_decay = Recorder::<B>::record(&rec, self.no_decay.to_record(), ())
            .context("cannot serialize the optimizer state")?;
        Ok((decay, no_decay))
    }

    pub fn load_bytes(self, decay: Vec<u8>, no_decay: Vec<u8>, device: &B::Device) -> Result<Self> {
        let rec = Recorder32::default();
        let decay_rec = Recorder::<B>::load(&rec, decay, device)
            .context("cannot decode the optimizer state of the checkpoint")?;
        let no_decay_rec = Recorder::<B>::load(&rec, no_decay, device)
            .context("cannot decode the optimizer state of the checkpoint")?;
        Ok(Self {
            decay: self.decay.load_record(decay_rec),
            no_decay: self.no_decay.load_record(no_decay_rec),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::backend::TrainBackend as B;
    use approx::assert_relative_eq;
    use burn::module::Module;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::backend::Backend;

    #[derive(Module, Debug)]
    struct Two<B: Backend> {
        w: Param<Tensor<B, 2>>,
        g: Param<Tensor<B, 1>>,
        lin: Linear<B>,
    }

    fn setup() -> (Two<B>, GradientsParams) {
        let dev = Default::default();
        let model = Two::<B> {
            w: Param::from_tensor(Tensor::from_data([[1.0, 2.0]], &dev)),
            g: Param::from_tensor(Tensor::from_data([3.0, 4.0], &dev)),
            lin: LinearConfig::new(2, 1).with_bias(false).init(&dev),
        };
        // loss = 3·sum(w) + sum(g²)/2 → grads w: [3, 3], g: [3, 4]; the linear
        // layer takes no part, so it has no gradient at all.
        let loss = model.w.val().sum().mul_scalar(3.0) + model.g.val().powi_scalar(2).sum().div_scalar(2.0);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        (model, grads)
    }

    #[test]
    fn global_norm_spans_all_parameters() {
        let (model, grads) = setup();
        assert_relative_eq!(global_grad_norm(&model, &grads), 43f64.sqrt(), max_relative = 1e-6);
    }

    #[test]
    fn clipping_rescales_to_the_limit_and_keeps_direction() {
        let (model, mut grads) = setup();
        let before = clip_global_norm(&model, &mut grads, 1.0);
        assert_relative_eq!(before, 43f64.sqrt(), max_relative = 1e-6);
        assert_relative_eq!(global_grad_norm(&model, &grads), 1.0, max_relative = 1e-5);
        let g = grads
            .get::<<B as AutodiffBackend>::InnerBackend, 1>(model.g.id)
            .expect("gain grad")
            .into_data()
            .to_vec::<f32>()
            .expect("f32");
        assert_relative_eq!(g[1] / g[0], 4.0 / 3.0, max_relative = 1e-5);
    }

    #[test]
    fn clipping_leaves_small_gradients_alone() {
        let (model, mut grads) = setup();
        clip_global_norm(&model, &mut grads, 100.0);
        assert_relative_eq!(global_grad_norm(&model, &grads), 43f64.sqrt(), max_relative = 1e-6);
    }

    #[test]
    fn gains_are_exempt_from_weight_decay() {
        let (model, mut grads) = setup();
        let no_decay = split_no_decay(&model, &mut grads);
        assert_eq!(no_decay.len(), 1);
        assert!(no_decay.get::<<B as AutodiffBackend>::InnerBackend, 1>(model.g.id).is_some());
        assert!(grads.get::<<B as AutodiffBackend>::InnerBackend, 2>(model.w.id).is_some());
        assert_eq!(grads.len(), 1);
    }
}
