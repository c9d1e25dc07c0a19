//! Softmax as one autodiff node whose forward is flex's own fused kernel
//! (backward from the saved output, `(g − Σ g·y) · y`). Measured only: its
//! values differ from burn's decomposition in the last bits, so the model
//! keeps `train::fused::softmax`, which gives the same bits.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{unary, Backward, Ops};
use burn::backend::Flex as Inner;
use burn::tensor::ops::{ActivationOps, FloatTensor, FloatTensorOps};
use burn::tensor::Tensor;

use crate::train::backend::TrainBackend as B;
use crate::train::fused::{one_node, OneNode};

#[derive(Debug)]
struct Softmax(usize);

impl OneNode for Softmax {
    fn forward(&self, x: FloatTensor<Inner>) -> (FloatTensor<Inner>, Self::State) {
        let y = <Inner as ActivationOps<Inner>>::softmax(x, self.0);
        (y.clone(), y)
    }
}

impl Backward<Inner, 1> for Softmax {
    type State = FloatTensor<Inner>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (y, dim) = (ops.state, self.0);
        unary::<Inner, _>(ops.parents, ops.node, grads, |g| {
            let s = Inner::float_sum_dim(Inner::float_mul(g.clone(), y.clone()), dim);
            Inner::float_mul(Inner::float_sub(g, s), y)
        });
    }
}

pub fn softmax<const D: usize>(x: Tensor<B, D>, dim: usize) -> Tensor<B, D> {
    one_node(x, Softmax(dim))
}

#[cfg(test)]
mod tests {
    use burn::tensor::{activation, Distribution};

    use super::*;

    /// The row times a softmax: values and gradient within float rounding
    /// of burn's (not the same bits, which is why the model does not use it).
    #[test]
    fn flex_fused_softmax_is_a_softmax_with_its_gradient() {
        let dev = Default::default();
        let x = Tensor::<B, 2>::random([3, 7], Distribution::Normal(0.0, 2.0), &dev).require_grad();
        let w = Tensor::<B, 2>::random([3, 7], Distribution::Normal(0.0, 1.0), &dev);
        let run = |f: fn(Tensor<B, 2>, usize) -> Tensor<B, 2>| {
            let y = f(x.clone(), 1);
            let grads = (y.clone() * w.clone()).sum().backward();
            let g = x.grad(&grads).unwrap().into_data().to_vec::<f32>().unwrap();
            (y.into_data().to_vec::<f32>().unwrap(), g)
        };
        let (ours, theirs) = (run(softmax), run(activation::softmax));
        for (a, b) in ours.0.iter().chain(&ours.1).zip(theirs.0.iter().chain(&theirs.1)) {
            assert!((a - b).abs() <= 1e-6, "{a} vs {b}");
        }
    }
}
