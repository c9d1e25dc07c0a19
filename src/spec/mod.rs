//! Run specs: what each of the 24 runs does, loaded strictly from `runs/`
//! (or the copy of it built into the binary).
//!
//! A spec file states only what it varies and `extends` another file; the
//! chain is merged, the profile's overrides are laid on top, and the result
//! is deserialized into [`Spec`] with unknown keys rejected. Symbolic sizes
//! (`shape: final`, `vocab: standard`) are then resolved against the profile,
//! so a resolved spec holds plain numbers only, and checked for meaning
//! (heads divide hidden, fractions in range, no setting another overrides).
//! What passes is a [`ValidatedSpec`], the only form the stages take.

pub mod claims;
pub mod data;
mod files;
mod guard;
mod load;
mod locate;
pub mod model;
pub mod profile;
pub mod tokenizer;
pub mod train;
mod validated;

use serde::{Deserialize, Serialize};

pub use self::claims::Claim;
pub use self::data::DataConfig;
pub use self::files::SpecFiles;
pub use self::load::{
    load_one, load_profile, load_set, set_error, spec_sources, SpecError, SpecErrorKind, SpecSet,
};
pub use self::model::ModelConfig;
pub use self::profile::Profile;
pub use self::tokenizer::TokenizerConfig;
pub use self::train::{LoaderConfig, TrainConfig};
pub use self::validated::ValidatedSpec;

/// The 24 runs of the reconstruction, in the order reports list them.
pub const RUN_IDS: [&str; 24] = [
    "Y01", "Y02", "Y03", "Y04", "Y05", "Y06", "T01", "T02", "T03", "T04", "T05", "T06", "S01", "S02", "S03",
    "S04", "S05", "D01", "D02", "D03", "I01", "I02", "I03", "F01",
];

/// Shape of a run id: a group letter and two digits.
pub fn is_run_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 3 && Group::from_letter(b[0] as char).is_some() && b[1..].iter().all(u8::is_ascii_digit)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub id: String,
    pub group: Group,
    pub title: String,
    /// The question this run answers.
    pub question: String,
    /// The facts the spec rests on and where each comes from.
    pub provenance: Vec<Fact>,
    pub data: DataConfig,
    pub tokenizer: TokenizerConfig,
    pub model: ModelConfig,
    pub train: TrainConfig,
    pub loader: LoaderConfig,
    pub claims: Vec<Claim>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Group {
    /// Y: how much usable text each preprocessing decision keeps.
    DataYield,
    /// T: tokenizer recipes and symbol stability.
    Tokenization,
    /// S: the model-size ladder.
    Scaling,
    /// D: small-data regime and curriculum.
    DataRegime,
    /// I: loaders and I/O.
    Infrastructure,
    /// F: the 1.36B run.
    Final,
}

impl Group {
    pub const ALL: [Group; 6] = [
        Group::DataYield,
        Group::Tokenization,
        Group::Scaling,
        Group::DataRegime,
        Group::Infrastructure,
        Group::Final,
    ];

    pub fn letter(self) -> char {
        match self {
            Group::DataYield => 'Y',
            Group::Tokenization => 'T',
            Group::Scaling => 'S',
            Group::DataRegime => 'D',
            Group::Infrastructure => 'I',
            Group::Final => 'F',
        }
    }

    pub fn from_letter(c: char) -> Option<Group> {
        Group::ALL.into_iter().find(|g| g.letter() == c)
    }

    pub fn name(self) -> &'static str {
        match self {
            Group::DataYield => "data yield",
            Group::Tokenization => "tokenization",
            Group::Scaling => "scaling",
            Group::DataRegime => "data regime and curriculum",
            Group::Infrastructure => "infrastructure",
            Group::Final => "final",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fact {
    pub source: Source,
    pub fact: String,
}

/// Where a fact comes from, as `paper/` and PAPER.md classify them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Abstract,
    ModelCard,
    ReleasedCode,
    Secondhand,
    /// Our reconstruction of the 24 runs; not stated by the author.
    Reconstruction,
}
