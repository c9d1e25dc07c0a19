//! The one place the training backends are named: `--device` picks a
//! [`BackendChoice`], [`on_backend`] turns it into a backend type and its
//! devices. A new backend is one variant, one type and one match arm here.

use anyhow::{bail, ensure, Result};
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

use burn::backend::autodiff::checkpoint::strategy::BalancedCheckpointing;
use burn::backend::{Autodiff, Flex};

use super::model;

/// Burn's pure-Rust CPU backend (see README: why burn 0.21 and `flex`).
pub type CpuBackend = Flex;
pub type TrainBackend = Autodiff<CpuBackend>;
/// `gradient_checkpointing: true`: activations of cheap operations are
/// recomputed in the backward pass instead of kept (paper: "gradient
/// checkpointing"; burn's balanced strategy).
pub type CheckpointedTrainBackend = Autodiff<CpuBackend, BalancedCheckpointing>;

#[cfg(feature = "cuda")]
pub type CudaBackend = burn::backend::Cuda;
#[cfg(feature = "cuda")]
pub type CudaTrainBackend = Autodiff<CudaBackend>;
#[cfg(feature = "cuda")]
pub type CheckpointedCudaTrainBackend = Autodiff<CudaBackend, BalancedCheckpointing>;

/// GPUs 0..N−1, N = `requested` or one per replica, never more than the
/// driver reports.
#[cfg(feature = "cuda")]
pub fn cuda_devices(
    requested: Option<usize>,
    replicas: usize,
) -> anyhow::Result<Vec<burn::backend::cuda::CudaDevice>> {
    use burn::tensor::backend::Backend;
    let present = <CudaBackend as Backend>::device_count(0);
    let wanted = requested.unwrap_or_else(|| replicas.min(present.max(1)));
    anyhow::ensure!(
        wanted >= 1 && wanted <= present,
        "--devices {wanted} asks for more GPUs than the {present} the CUDA driver reports"
    );
    Ok((0..wanted).map(burn::backend::cuda::CudaDevice::new).collect())
}

/// Which device trains (also the `--device` values of the command line).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum BackendChoice {
    /// Burn's flex backend on this machine's cores.
    #[default]
    Cpu,
    /// Needs the `cuda` cargo feature and an NVIDIA driver at run time.
    Cuda,
}

/// Stated peak FLOP/s per backend and matmul precision: CPU = cores ×
/// 2.5 GHz × 32 f32 FLOP per cycle (two AVX2 FMA units of 8 lanes; bf16 is
/// multiplied in f32 there); H100/H200 SXM = 67 TFLOP/s f32 (no tensor
/// cores) or 989 TFLOP/s dense bf16 (tensor cores, the paper's regime).
pub fn default_peak(backend: BackendChoice, precision: model::MatmulPrecision) -> (f64, String) {
    match (backend, precision) {
        (BackendChoice::Cpu, _) => {
            let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
            (
                cores as f64 * 2.5e9 * 32.0,
                format!("{cores} cores x 2.5 GHz x 32 f32 FLOP/cycle (AVX2 FMA), stated"),
            )
        }
        (BackendChoice::Cuda, model::MatmulPrecision::F32) => {
            (67e12, "NVIDIA H100/H200 SXM f32 peak 67 TFLOP/s, stated".to_string())
        }
        (BackendChoice::Cuda, model::MatmulPrecision::Bf16) => {
            (989e12, "NVIDIA H100/H200 SXM dense bf16 peak 989 TFLOP/s, stated".to_string())
        }
    }
}

/// Work generic over the training backend. Rust has no generic closures,
/// so `run` and the bench each implement this once and [`on_backend`] holds
/// the one choice of backend type and devices.
pub(crate) trait BackendTask {
    type Output;
    /// `devices`: the devices the replicas are placed on, round-robin.
    fn run<B: AutodiffBackend>(self, devices: &[B::Device]) -> Result<Self::Output>;
}

/// Runs `task` on the backend `backend` and `checkpointing` pick, with the
/// devices `requested` (`--devices`) or, by default, one per replica.
// `replicas` only matters where there are several devices to place them on.
#[cfg_attr(not(feature = "cuda"), allow(unused_variables))]
pub(crate) fn on_backend<T: BackendTask>(
    backend: BackendChoice,
    checkpointing: bool,
    requested: Option<usize>,
    replicas: usize,
    task: T,
) -> Result<T::Output> {
    match (backend, checkpointing) {
        (BackendChoice::Cpu, false) => task.run::<TrainBackend>(&cpu_devices(requested)?),
        (BackendChoice::Cpu, true) => task.run::<CheckpointedTrainBackend>(&cpu_devices(requested)?),
        #[cfg(feature = "cuda")]
        (BackendChoice::Cuda, false) => task.run::<CudaTrainBackend>(&cuda_devices(requested, replicas)?),
        #[cfg(feature = "cuda")]
        (BackendChoice::Cuda, true) => {
            task.run::<CheckpointedCudaTrainBackend>(&cuda_devices(requested, replicas)?)
        }
        #[cfg(not(feature = "cuda"))]
        (BackendChoice::Cuda, _) => {
            bail!("this binary was built without CUDA: rebuild with `cargo build --release --features cuda`")
        }
    }
}

/// The CPU is one device: replicas run as threads on it.
fn cpu_devices(requested: Option<usize>) -> Result<Vec<burn::backend::flex::FlexDevice>> {
    ensure!(
        requested.is_none_or(|n| n == 1),
        "--devices {} asks for several CPU devices; the CPU backend has one (data-parallel replicas run as threads on it): drop --devices or use --device cuda",
        requested.unwrap_or(1)
    );
    Ok(vec![Default::default()])
}

/// Which device each replica runs on: round-robin over `devices`.
pub(crate) fn placement<D: Clone>(devices: &[D], replicas: usize) -> Vec<D> {
    (0..replicas).map(|r| devices[r % devices.len()].clone()).collect()
}
