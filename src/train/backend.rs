//! The one place the training backends are named: `--device` picks a
//! [`BackendChoice`], [`on_backend`] turns it into a backend type and its
//! devices. A new backend is one variant, one type and one match arm here.

use anyhow::{ensure, Result};
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

/// Burn's wgpu backend: the CubeCL kernels burn-cuda runs, compiled to
/// WGSL for any Vulkan device (lavapipe, Mesa's software Vulkan, in CI).
#[cfg(feature = "wgpu")]
pub type WgpuBackend = burn::backend::Wgpu;
#[cfg(feature = "wgpu")]
pub type WgpuTrainBackend = Autodiff<WgpuBackend>;
#[cfg(feature = "wgpu")]
pub type CheckpointedWgpuTrainBackend = Autodiff<WgpuBackend, BalancedCheckpointing>;

/// Set to `1` to skip the tests of the wgpu path on a machine without a
/// Vulkan device; without it they fail, naming the packages to install.
pub const NO_GPU_BACKEND_ENV: &str = "ARXIV_TO_MODEL_NO_GPU_BACKEND";

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

#[cfg(feature = "wgpu")]
pub use self::wgpu::wgpu_devices;

/// " on <adapter>" for a wgpu device, by its `Debug` name as the summary
/// records placements; empty for any other device.
pub fn adapter_note(device: &str) -> String {
    #[cfg(feature = "wgpu")]
    if let Some(adapter) = self::wgpu::adapter_of(device) {
        return format!(" on {adapter}");
    }
    let _ = device;
    String::new()
}

#[cfg(feature = "wgpu")]
mod wgpu {
    use std::future::Future;
    use std::sync::OnceLock;

    use anyhow::{ensure, Result};
    use burn::backend::wgpu::graphics::{AutoGraphicsApi, GraphicsApi};
    use burn::backend::wgpu::WgpuDevice;

    /// The adapters the replicas may use: burn's device for each and its
    /// description, in the order burn numbers them.
    fn adapters() -> &'static [(WgpuDevice, String)] {
        static ADAPTERS: OnceLock<Vec<(WgpuDevice, String)>> = OnceLock::new();
        ADAPTERS.get_or_init(|| {
            let api = AutoGraphicsApi::backend();
            let instance = ::wgpu::Instance::new(::wgpu::InstanceDescriptor {
                backends: api.into(),
                ..::wgpu::InstanceDescriptor::new_without_display_handle()
            });
            let mut found = std::pin::pin!(instance.enumerate_adapters(api.into()));
            // Native wgpu enumerates synchronously; the future is ready at once.
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            let adapters = loop {
                if let std::task::Poll::Ready(list) = found.as_mut().poll(&mut cx) {
                    break list;
                }
                std::thread::yield_now();
            };
            let mut seen = [0usize; 3];
            let mut cpu = false;
            let mut out = Vec::new();
            for adapter in adapters {
                let info = adapter.get_info();
                // burn selects "the n-th adapter of a type", and only the
                // first of type CPU.
                let device = match info.device_type {
                    ::wgpu::DeviceType::DiscreteGpu => WgpuDevice::DiscreteGpu(next(&mut seen[0])),
                    ::wgpu::DeviceType::IntegratedGpu => WgpuDevice::IntegratedGpu(next(&mut seen[1])),
                    ::wgpu::DeviceType::VirtualGpu => WgpuDevice::VirtualGpu(next(&mut seen[2])),
                    ::wgpu::DeviceType::Cpu if !cpu => {
                        cpu = true;
                        WgpuDevice::Cpu
                    }
                    _ => continue,
                };
                let description = format!(
                    "{} ({:?}, {:?}, driver {} {})",
                    info.name, info.device_type, info.backend, info.driver, info.driver_info
                );
                out.push((device, description));
            }
            // Hardware first: burn's default device prefers it too.
            out.sort_by_key(|(device, _)| matches!(device, WgpuDevice::Cpu));
            out
        })
    }

    fn next(counter: &mut usize) -> usize {
        *counter += 1;
        *counter - 1
    }

    /// The adapter of the device whose `Debug` name is `device`.
    pub fn adapter_of(device: &str) -> Option<&'static str> {
        adapters().iter().find(|(d, _)| format!("{d:?}") == device).map(|(_, name)| name.as_str())
    }

    /// The first N adapters, N = `requested` or one per replica, never
    /// more than there are; each is named on stderr the first time.
    pub fn wgpu_devices(requested: Option<usize>, replicas: usize) -> Result<Vec<WgpuDevice>> {
        let present = adapters();
        if present.is_empty() {
            anyhow::bail!(
                "--device wgpu found no {:?} adapter: install a GPU driver, or the Vulkan loader and Mesa's \
                 software device (`apt-get install -y mesa-vulkan-drivers libvulkan1`); tests of the wgpu \
                 path can be skipped with {}=1",
                AutoGraphicsApi::backend(),
                super::NO_GPU_BACKEND_ENV
            );
        }
        let wanted = requested.unwrap_or_else(|| replicas.min(present.len()));
        ensure!(
            wanted >= 1 && wanted <= present.len(),
            "--devices {wanted} asks for more wgpu adapters than the {} present ({}); replicas share \
             devices round-robin, so drop --devices to run them all on what there is",
            present.len(),
            present.iter().map(|(_, name)| name.as_str()).collect::<Vec<_>>().join("; ")
        );
        static ANNOUNCED: OnceLock<()> = OnceLock::new();
        ANNOUNCED.get_or_init(|| {
            for (i, (device, name)) in present.iter().enumerate() {
                eprintln!("wgpu adapter {i}: {name} (burn device {device:?})");
            }
        });
        Ok(present[..wanted].iter().map(|(device, _)| device.clone()).collect())
    }
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
    /// Burn's wgpu backend on a Vulkan device (the `wgpu` feature, on by
    /// default); lavapipe makes one of the CPU where there is no GPU.
    Wgpu,
}

impl BackendChoice {
    /// `--device cuda` (or `wgpu`) on a build without that feature fails here,
    /// before any stage runs, rather than at the train stage after the data stages.
    pub fn ensure_built(self) -> Result<()> {
        let (built, feature, needs) = match self {
            BackendChoice::Cpu => (true, "", ""),
            BackendChoice::Cuda => (cfg!(feature = "cuda"), "cuda", "an NVIDIA driver"),
            BackendChoice::Wgpu => (cfg!(feature = "wgpu"), "wgpu", "a Vulkan device"),
        };
        ensure!(
            built,
            "--device {feature}: this binary was built without {feature}; rebuild with \
             `cargo build --release --features {feature}` (needs {needs} at run time), or use --device cpu"
        );
        Ok(())
    }
}

/// Stated peak FLOP/s per backend and matmul precision: CPU = cores ×
/// 2.5 GHz × 32 f32 FLOP per cycle (two AVX2 FMA units of 8 lanes; bf16 is
/// multiplied in f32 there); H100/H200 SXM = 67 TFLOP/s f32 (no tensor
/// cores) or 989 TFLOP/s dense bf16 (tensor cores, the paper's regime).
pub fn default_peak(backend: BackendChoice, precision: model::MatmulPrecision) -> (f64, String) {
    match (backend, precision) {
        // wgpu: the CPU's peak, since lavapipe computes on these cores; MFU of
        // a hardware Vulkan GPU is not a number this harness claims.
        (BackendChoice::Cpu | BackendChoice::Wgpu, _) => {
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
#[cfg_attr(not(any(feature = "cuda", feature = "wgpu")), allow(unused_variables))]
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
            anyhow::bail!(
                "this binary was built without CUDA: rebuild with `cargo build --release --features cuda`"
            )
        }
        #[cfg(feature = "wgpu")]
        (BackendChoice::Wgpu, false) => task.run::<WgpuTrainBackend>(&wgpu_devices(requested, replicas)?),
        #[cfg(feature = "wgpu")]
        (BackendChoice::Wgpu, true) => {
            task.run::<CheckpointedWgpuTrainBackend>(&wgpu_devices(requested, replicas)?)
        }
        #[cfg(not(feature = "wgpu"))]
        (BackendChoice::Wgpu, _) => {
            anyhow::bail!(
                "this binary was built without wgpu: rebuild with `cargo build --release --features wgpu`"
            )
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

/// bf16-mixed needs bf16 tensors on every device; a device without them
/// (lavapipe's Vulkan has no bf16 shader type) is refused rather than
/// trained in f32 under a bf16 label.
pub(crate) fn check_precision<B: burn::tensor::backend::Backend>(
    train: &crate::spec::train::TrainConfig,
    placement: &[B::Device],
) -> Result<()> {
    if train.precision == crate::spec::train::Precision::Bf16Mixed {
        for device in placement {
            ensure!(
                B::supports_dtype(device, burn::tensor::DType::BF16),
                "precision bf16-mixed: the training device {device:?}{} has no bf16 tensors; \
                 train in f32 (`precision: f32`) or on a device with bf16",
                adapter_note(&format!("{device:?}"))
            );
        }
    }
    Ok(())
}
