//! Scientific LaTeX prose from vocabularies and sentence templates.
//!
//! The synthetic papers must read like arXiv sources to every stage that
//! looks at text: the language detector must see English (or French, German)
//! with confidence, the near-duplicate stage must see unrelated papers as
//! unrelated (templates put a random slot every few words, so 5-word shingles
//! rarely repeat across papers), and the math must look like real math.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The corpus's only source of randomness: ChaCha8 seeded from the corpus
/// seed, one stream per paper, so a paper's text does not depend on how much
/// randomness earlier papers consumed.
pub struct Dice(ChaCha8Rng);

impl Dice {
    pub fn for_paper(seed: u64, index: u32) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(u64::from(index));
        Dice(rng)
    }

    /// Uniform in `0..n` (`n` ≥ 1; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: usize) -> usize {
        (self.0.next_u64() % n.max(1) as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a>(&mut self, options: &[&'a str]) -> &'a str {
        options[self.below(options.len())]
    }
}

/// Research area of a paper: decides vocabulary and section names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Math,
    ComputerScience,
    Physics,
}

impl Field {
    pub fn roll(dice: &mut Dice) -> Field {
        [Field::Math, Field::ComputerScience, Field::Physics][dice.below(3)]
    }

    /// Categories that pass the released substring list AND the exact list
    /// (`math.*`, `cs.*`, `hep-th`, `quant-ph`, `stat.ML`, …).
    pub fn categories(self, dice: &mut Dice) -> String {
        let options: &[&str] = match self {
            Field::Math => &[
                "math.AP",
                "math.PR math.ST stat.TH",
                "math.CO",
                "math.AG math.NT",
                "math.FA math.OA",
                "math.DG math.GT",
                "math.OC cs.SY",
            ],
            Field::ComputerScience => &[
                "cs.LG stat.ML",
                "cs.DS",
                "cs.CL cs.AI",
                "cs.CV cs.LG",
                "cs.DC cs.PF",
                "cs.LO cs.PL",
                "cs.IT math.IT",
            ],
            Field::Physics => {
                &["hep-th", "hep-th gr-qc", "hep-ph", "quant-ph", "quant-ph cond-mat.str-el", "hep-ph hep-ex"]
            }
        };
        dice.pick(options).to_string()
    }

    fn nouns(self) -> &'static [&'static str] {
        match self {
            Field::Math => &[
                "operator",
                "manifold",
                "estimate",
                "inequality",
                "sequence",
                "functional",
                "subgroup",
                "measure",
                "kernel",
                "extension",
                "filtration",
                "embedding",
                "representation",
                "variety",
                "lattice",
                "martingale",
                "semigroup",
                "spectrum",
                "invariant",
                "sheaf",
                "polytope",
                "flow",
                "quotient",
                "cocycle",
            ],
            Field::ComputerScience => &[
                "algorithm",
                "classifier",
                "encoder",
                "scheduler",
                "protocol",
                "graph",
                "heuristic",
                "benchmark",
                "dataset",
                "index",
                "cache",
                "model",
                "policy",
                "sampler",
                "solver",
                "network",
                "parser",
                "planner",
                "tokenizer",
                "compiler",
                "allocator",
                "sketch",
                "hash table",
                "verifier",
            ],
            Field::Physics => &[
                "Hamiltonian",
                "field",
                "propagator",
                "amplitude",
                "coupling",
                "vacuum",
                "soliton",
                "wave packet",
                "resonance",
                "correlator",
                "boundary condition",
                "spin chain",
                "density matrix",
                "gauge field",
                "excitation",
                "black hole",
                "condensate",
                "detector",
                "lattice model",
                "scattering process",
                "qubit",
                "cavity",
                "plasma",
                "superconductor",
            ],
        }
    }

    fn quantities(self) -> &'static [&'static str] {
        match self {
            Field::Math => &[
                "convergence rate",
                "error term",
                "lower bound",
                "spectral gap",
                "regularity",
                "growth rate",
                "Hausdorff dimension",
                "mixing time",
                "operator norm",
                "Euler characteristic",
                "decay rate",
                "modulus of continuity",
            ],
            Field::ComputerScience => &[
                "sample complexity",
                "running time",
                "memory footprint",
                "throughput",
                "generalisation error",
                "approximation ratio",
                "latency",
                "accuracy",
                "communication cost",
                "query time",
                "regret",
                "energy consumption",
            ],
            Field::Physics => &[
                "ground state energy",
                "critical exponent",
                "correlation length",
                "decay width",
                "cross section",
                "entanglement entropy",
                "coherence time",
                "binding energy",
                "transition temperature",
                "scattering length",
                "mass gap",
                "Lyapunov exponent",
            ],
        }
    }

    fn conditions(self) -> &'static [&'static str] {
        match self {
            Field::Math => &[
                "the dimension is at least three",
                "the boundary is smooth",
                "the kernel is positive definite",
                "the measure has finite moments",
                "the group acts freely",
                "the domain is convex",
            ],
            Field::ComputerScience => &[
                "the input graph is sparse",
                "the labels are noisy",
                "the cache is cold",
                "the workers fail independently",
                "the step size is small",
                "the data arrive in a stream",
            ],
            Field::Physics => &[
                "the coupling is weak",
                "the temperature is low",
                "the system is at half filling",
                "the gauge group is abelian",
                "the pulse is short",
                "the interaction has finite range",
            ],
        }
    }

    fn section_titles(self) -> &'static [&'static str] {
        match self {
            Field::Math => &[
                "Preliminaries",
                "Main results",
                "Proof of the main theorem",
                "Examples",
                "A priori estimates",
                "Further remarks",
                "Compactness",
            ],
            Field::ComputerScience => &[
                "Related work",
                "Method",
                "Experimental setup",
                "Results",
                "Analysis",
                "Limitations",
                "System design",
            ],
            Field::Physics => &[
                "The model",
                "Numerical results",
                "Perturbative analysis",
                "Phase diagram",
                "Experimental setup",
                "Discussion",
                "Effective theory",
            ],
        }
    }
}

pub const ADJECTIVES: &[&str] = &[
    "compact",
    "bounded",
    "nonlinear",
    "stable",
    "sparse",
    "regular",
    "symmetric",
    "convex",
    "finite",
    "local",
    "global",
    "adaptive",
    "robust",
    "discrete",
    "continuous",
    "generic",
    "minimal",
    "exact",
    "asymptotic",
    "uniform",
    "smooth",
    "random",
    "efficient",
    "critical",
    "effective",
    "weighted",
    "periodic",
    "hierarchical",
    "degenerate",
    "scalable",
];

/// Position of `word` in [`ADJECTIVES`], if it is one.
pub fn adjective_index(word: &str) -> Option<usize> {
    ADJECTIVES.iter().position(|a| *a == word)
}

/// The adjective after the `k`-th, wrapping: a different word, same part of speech.
pub fn adjective_after(k: usize) -> &'static str {
    ADJECTIVES[(k + 1) % ADJECTIVES.len()]
}

const VERBS: &[&str] = &[
    "prove",
    "establish",
    "derive",
    "construct",
    "analyse",
    "compute",
    "characterise",
    "estimate",
    "introduce",
    "study",
    "obtain",
    "extend",
    "classify",
    "simulate",
    "measure",
];

const PEOPLE: &[&str] = &[
    "Hilbert",
    "Noether",
    "Kolmogorov",
    "Turing",
    "Dirac",
    "Feynman",
    "Lovasz",
    "Knuth",
    "Weyl",
    "Wiener",
    "Shannon",
    "Landau",
    "Arnold",
    "Cartan",
    "Dijkstra",
    "Valiant",
    "Yau",
    "Connes",
    "Bourgain",
    "Mirzakhani",
];

/// English sentence templates. Slots: `{N}` noun, `{A}` adjective, `{V}`
/// verb, `{Q}` quantity, `{C}` condition, `{M}` inline math, `{P}` person,
/// `{K}` small integer, `{S}` a `\cite`, `{R}` a `\ref`.
const ENGLISH_TEMPLATES: &[&str] = &[
    "We {V} a {A} {N} for the {A} {N} and show that its {Q} is controlled by {M}.",
    "Our main result states that the {Q} of every {A} {N} is at most {M} provided {C}.",
    "The proof relies on a {A} decomposition of the {N} into {K} pieces, each handled by a {A} argument.",
    "This extends earlier work of {P} and {P}~{S}, where only the {A} case was treated.",
    "In Section~{R} we {V} the {Q} of the {N} and compare it with the {A} {N}.",
    "A key observation is that {M} holds uniformly in {M}, which is not obvious from the definition.",
    "When {C}, the {N} becomes {A} and the argument simplifies considerably.",
    "We then {V} how the {Q} depends on the size of the {A} {N}.",
    "Numerical experiments on {K} instances suggest that the {Q} grows more slowly than the {A} bound predicts.",
    "It is natural to ask whether the same {Q} can be obtained for a {A} {N}.",
    "Throughout, we assume that {C} and write {M} for the associated {N}.",
    "The {A} {N} introduced by {P}~{S} plays a central role in what follows.",
    "Combining this with the {A} estimate above, we conclude that {M}.",
    "Note that the constant depends only on {M} and not on the {A} {N} itself.",
    "For completeness, we recall the definition of a {A} {N} and fix notation.",
    "Our approach differs from previous ones in that it avoids any {A} assumption on the {N}.",
    "As a consequence, the {Q} improves from {M} to {M} in the {A} regime.",
    "The remaining cases follow by a {A} argument, which we sketch in Section~{R}.",
    "We emphasise that the hypothesis that {C} is essential, as the {A} {N} of {P} shows.",
    "Finally, we discuss several open problems concerning the {Q} of {A} {N}s.",
    "These results are consistent with the predictions of {P}, although the {Q} is {K} percent smaller.",
    "To the best of our knowledge, this is the first {A} {N} with a provable {Q}.",
    "Let {M} be a {A} {N} and suppose that {C}.",
    "Then the {N} is {A} if and only if {M}.",
    "We illustrate the method on a {A} {N} with {K} parameters and a {A} {N}.",
    "The main difficulty is that the {N} need not be {A}, so the usual {A} {N} does not apply.",
    "Using a {A} {N}, we reduce the problem to estimating {M}.",
    "In the {A} limit the {Q} approaches {M}, in agreement with the heuristic picture of {P}.",
    "Moreover, the {N} can be computed in time {M}, which is optimal up to constants.",
    "Several authors, including {P}~{S}, have studied the {Q} of {A} {N}s.",
    "If {C}, then {M} and the {A} {N} has {K} distinct components.",
    "We do not know whether the {A} {N} admits a {A} {N} in general.",
    "A direct computation gives {M}, and hence the {Q} is finite.",
    "The {Q} of the {A} {N} was first bounded by {P}, using ideas of {P}.",
    "Table~{R} lists the {Q} for {K} choices of the {A} {N}.",
    "By a standard {A} argument we may assume {M} without loss of generality.",
];

const FRENCH_TEMPLATES: &[&str] = &[
    "Nous montrons que toute {N} {A} admet une décomposition canonique lorsque {M}.",
    "Dans cet article, nous étudions le comportement asymptotique des {N}s {A} et nous en déduisons une estimation optimale.",
    "La démonstration repose sur une inégalité de type {P} et sur un argument de compacité.",
    "Nous rappelons d'abord les définitions et les notations utilisées dans la suite de ce travail.",
    "Ce résultat généralise un théorème classique de {P}, qui ne traitait que le cas {A}.",
    "Il en résulte que la {N} est bornée dès que {M}, ce qui conclut la preuve.",
    "Les constantes qui apparaissent ici ne dépendent que de la dimension et de {M}.",
    "Nous terminons par quelques remarques sur les questions ouvertes et sur les liens avec les travaux de {P}.",
    "Supposons maintenant que la {N} soit {A} et notons {M} la mesure associée.",
    "On vérifie sans peine que cette construction ne dépend pas du choix de la {N}.",
    "Cette méthode permet aussi de traiter le cas où la {N} n'est pas {A}.",
    "Pour simplifier l'exposition, nous supposons que {M} dans toute cette section.",
];

const FRENCH_NOUNS: &[&str] = &[
    "fonction",
    "équation",
    "variété",
    "solution",
    "suite",
    "mesure",
    "surface",
    "courbe",
    "algèbre",
    "distribution",
    "estimation",
    "valeur propre",
];

const FRENCH_ADJECTIVES: &[&str] = &[
    "bornée",
    "régulière",
    "convexe",
    "compacte",
    "elliptique",
    "harmonique",
    "périodique",
    "algébrique",
    "aléatoire",
    "singulière",
];

const GERMAN_TEMPLATES: &[&str] = &[
    "Wir zeigen, dass jede {A} {N} eine kanonische Zerlegung besitzt, sofern {M} gilt.",
    "In dieser Arbeit untersuchen wir das asymptotische Verhalten der {A} {N} und leiten eine scharfe Abschätzung her.",
    "Der Beweis beruht auf einer Ungleichung vom Typ {P} und einem Kompaktheitsargument.",
    "Zunächst erinnern wir an die Definitionen und die Bezeichnungen, die wir im Folgenden verwenden.",
    "Dieses Ergebnis verallgemeinert einen klassischen Satz von {P}, der nur den {A} Fall behandelt.",
    "Daraus folgt, dass die {N} beschränkt ist, sobald {M} gilt, womit der Beweis abgeschlossen ist.",
    "Die auftretenden Konstanten hängen nur von der Dimension und von {M} ab.",
    "Zum Schluss diskutieren wir offene Fragen und den Zusammenhang mit den Arbeiten von {P}.",
    "Wir nehmen nun an, dass die {N} {A} ist, und bezeichnen mit {M} das zugehörige Maß.",
    "Man überprüft leicht, dass diese Konstruktion nicht von der Wahl der {N} abhängt.",
    "Mit dieser Methode lässt sich auch der Fall behandeln, in dem die {N} nicht {A} ist.",
    "Um die Darstellung zu vereinfachen, setzen wir in diesem Abschnitt stets {M} voraus.",
];

const GERMAN_NOUNS: &[&str] = &[
    "Funktion",
    "Gleichung",
    "Mannigfaltigkeit",
    "Lösung",
    "Folge",
    "Fläche",
    "Kurve",
    "Algebra",
    "Verteilung",
    "Abschätzung",
    "Gruppe",
    "Darstellung",
];

const GERMAN_ADJECTIVES: &[&str] = &[
    "beschränkte",
    "reguläre",
    "konvexe",
    "kompakte",
    "elliptische",
    "harmonische",
    "periodische",
    "algebraische",
    "zufällige",
    "singuläre",
];

/// Language of a generated paper's prose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    English,
    French,
    German,
}

/// Writes sentences for one paper; the section and citation counters keep
/// `\ref`/`\cite` keys consistent within the paper.
pub struct Writer<'d> {
    pub dice: &'d mut Dice,
    pub field: Field,
    pub language: Language,
    pub citations: usize,
}

impl<'d> Writer<'d> {
    pub fn new(dice: &'d mut Dice, field: Field, language: Language) -> Self {
        Writer { dice, field, language, citations: 0 }
    }

    /// One sentence with every slot filled.
    pub fn sentence(&mut self) -> String {
        let templates = match self.language {
            Language::English => ENGLISH_TEMPLATES,
            Language::French => FRENCH_TEMPLATES,
            Language::German => GERMAN_TEMPLATES,
        };
        let template = self.dice.pick(templates);
        self.fill(template)
    }

    /// A paragraph of `lo..=hi` sentences on one source line, the way many
    /// authors type paragraphs (and the way `%` comments then eat the rest).
    pub fn paragraph(&mut self, lo: usize, hi: usize) -> String {
        let n = self.dice.between(lo, hi);
        (0..n).map(|_| self.sentence()).collect::<Vec<_>>().join(" ")
    }

    fn fill(&mut self, template: &str) -> String {
        let mut out = String::with_capacity(template.len() + 64);
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let slot = &rest[start..];
            let (replacement, used) = match slot.get(..3) {
                Some("{N}") => (self.noun(), 3),
                Some("{A}") => (self.adjective(), 3),
                Some("{V}") => (self.dice.pick(VERBS).to_string(), 3),
                Some("{Q}") => (self.dice.pick(self.field.quantities()).to_string(), 3),
                Some("{C}") => (self.dice.pick(self.field.conditions()).to_string(), 3),
                Some("{M}") => (inline_math(self.dice), 3),
                Some("{P}") => (self.dice.pick(PEOPLE).to_string(), 3),
                Some("{K}") => (self.dice.between(2, 64).to_string(), 3),
                Some("{S}") => (self.cite(), 3),
                Some("{R}") => (format!("\\ref{{sec:{}}}", self.dice.between(1, 5)), 3),
                _ => ("{".to_string(), 1),
            };
            out.push_str(&replacement);
            rest = &slot[used..];
        }
        out.push_str(rest);
        out
    }

    fn noun(&mut self) -> String {
        let nouns = match self.language {
            Language::English => self.field.nouns(),
            Language::French => FRENCH_NOUNS,
            Language::German => GERMAN_NOUNS,
        };
        self.dice.pick(nouns).to_string()
    }

    fn adjective(&mut self) -> String {
        let adjectives = match self.language {
            Language::English => ADJECTIVES,
            Language::French => FRENCH_ADJECTIVES,
            Language::German => GERMAN_ADJECTIVES,
        };
        self.dice.pick(adjectives).to_string()
    }

    fn cite(&mut self) -> String {
        self.citations += 1;
        format!("\\cite{{ref{}}}", self.dice.between(1, 12))
    }

    pub fn section_title(&mut self) -> &'static str {
        self.dice.pick(self.field.section_titles())
    }

    /// A title like arXiv's: a claim about a quantity of an object.
    pub fn title(&mut self) -> String {
        let q = self.dice.pick(self.field.quantities());
        let a = self.dice.pick(ADJECTIVES);
        let n = self.dice.pick(self.field.nouns());
        let a2 = self.dice.pick(ADJECTIVES);
        let n2 = self.dice.pick(self.field.nouns());
        let mut title = match self.dice.below(4) {
            0 => format!("On the {q} of {a} {n}s"),
            1 => format!("{a} {n}s and their {q}"),
            2 => format!("A {a} {n} for {a2} {n2}s"),
            _ => format!("Sharp bounds for the {q} of {a} {n}s with {a2} {n2}"),
        };
        capitalise(&mut title);
        title
    }

    /// An abstract of plain prose with some inline math, in the paper's language.
    pub fn abstract_text(&mut self, sentences: usize) -> String {
        (0..sentences)
            .map(|_| {
                let s = self.sentence();
                // Abstracts in the OAI snapshot carry inline math but rarely \cite or \ref.
                strip_refs(&s)
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn strip_refs(sentence: &str) -> String {
    let mut s = sentence.replace("~\\cite", " \\cite");
    for command in ["\\cite{", "\\ref{"] {
        while let Some(start) = s.find(command) {
            let end = s[start..].find('}').map_or(s.len(), |e| start + e + 1);
            s.replace_range(start..end, "[1]");
        }
    }
    s.replace("Section~[1]", "the last section").replace("Table~[1]", "the table")
}

pub fn capitalise(s: &mut String) {
    if let Some(first) = s.chars().next() {
        let upper: String = first.to_uppercase().collect();
        s.replace_range(..first.len_utf8(), &upper);
    }
}

const LETTERS: &[&str] = &["x", "y", "z", "u", "v", "w", "f", "g", "h", "t", "s", "n", "m", "k"];
const GREEK: &[&str] = &[
    "\\alpha",
    "\\beta",
    "\\gamma",
    "\\delta",
    "\\varepsilon",
    "\\lambda",
    "\\mu",
    "\\sigma",
    "\\omega",
    "\\xi",
    "\\zeta",
    "\\varphi",
    "\\psi",
    "\\kappa",
    "\\rho",
    "\\tau",
];
const SETS: &[&str] = &[
    "\\mathbb{R}^{n}",
    "\\mathbb{C}",
    "\\mathbb{Z}",
    "L^{2}(\\Omega)",
    "H^{1}_{0}(\\Omega)",
    "\\mathcal{H}",
    "\\mathbb{N}",
    "\\mathfrak{g}",
];

fn symbol(dice: &mut Dice) -> String {
    if dice.chance(40) {
        dice.pick(GREEK).to_string()
    } else {
        dice.pick(LETTERS).to_string()
    }
}

fn indexed(dice: &mut Dice) -> String {
    let base = symbol(dice);
    match dice.below(4) {
        0 => format!("{base}_{{{}}}", dice.pick(&["i", "j", "k", "n", "0", "1", "ij"])),
        1 => format!("{base}^{{{}}}", dice.between(2, 9)),
        _ => base,
    }
}

/// A small formula for running text, e.g. `$\|u_{k}\|_{L^{2}} \le C \lambda^{3}$`.
pub fn inline_math(dice: &mut Dice) -> String {
    let a = indexed(dice);
    let b = indexed(dice);
    let c = dice.between(2, 97);
    let body = match dice.below(8) {
        0 => format!("{a} \\le {c} {b}"),
        1 => format!("\\|{a}\\|_{{L^{{{}}}}} \\le C {b}", dice.between(1, 8)),
        2 => format!("{a} \\in {}", dice.pick(SETS)),
        3 => format!("O({a}^{{{c}}} \\log {b})"),
        4 => format!("{a} = {c}"),
        5 => format!("\\sum_{{i=1}}^{{{c}}} {a}_{{i}}"),
        6 => format!("{a} \\to {b}"),
        _ => format!("\\frac{{{a}}}{{{b}}} < {c}"),
    };
    format!("${body}$")
}

/// A display-math expression: dense, with random indices and coefficients,
/// so two papers never share a long run of identical math tokens.
pub fn display_expression(dice: &mut Dice) -> String {
    // `a` takes further sub- and superscripts below, so it carries none itself.
    let a = symbol(dice);
    let b = indexed(dice);
    let g = dice.pick(GREEK);
    let c1 = dice.between(2, 99);
    let c2 = dice.between(2, 99);
    match dice.below(9) {
        0 => format!(
            "\\int_{{\\Omega}} |\\nabla {a}|^{{{}}} \\,\\mathrm{{d}}x \\le {c1} \\|{b}\\|_{{L^{{{}}}}}^{{{}}} + {g}^{{{c2}}}",
            dice.between(2, 6), dice.between(1, 9), dice.between(2, 4)
        ),
        1 => format!(
            "\\sum_{{k={}}}^{{\\infty}} \\frac{{{a}^{{k}}}}{{k!}} {b}_{{k}} = \\prod_{{j={}}}^{{{c1}}} (1 - {g}_{{j}} {b})^{{-{c2}}}",
            dice.between(0, 3), dice.between(1, 4)
        ),
        2 => format!(
            "\\frac{{\\partial {a}}}{{\\partial t}} = \\Delta {a} + {g} {a}^{{{c1}}} - {c2} \\nabla \\cdot ({b} \\nabla {a})"
        ),
        3 => format!(
            "H = -{c1} \\sum_{{\\langle i,j \\rangle}} \\sigma^{{z}}_{{i}} \\sigma^{{z}}_{{j}} - {g} \\sum_{{i}} \\sigma^{{x}}_{{i}} + {c2} {a}"
        ),
        4 => format!(
            "\\mathbb{{E}}\\big[{a}_{{t}} \\mid \\mathcal{{F}}_{{s}}\\big] = {b}_{{s}} e^{{-{g} (t-s)}} + \\frac{{{c1}}}{{{c2}}} \\sqrt{{t-s}}"
        ),
        5 => format!(
            "\\mathcal{{L}} = -\\frac{{1}}{{4}} F_{{\\mu\\nu}} F^{{\\mu\\nu}} + \\bar\\psi (i \\gamma^{{\\mu}} D_{{\\mu}} - m_{{{c1}}}) \\psi + {g} {a}^{{{c2}}}"
        ),
        6 => format!(
            "\\hat{{{a}}}_{{n}} = \\frac{{1}}{{n}} \\sum_{{i=1}}^{{n}} \\ell({b}_{{i}}, \\vartheta) + {g} \\|\\vartheta\\|_{{{c1}}}^{{{c2}}}"
        ),
        7 => format!(
            "\\det\\big({a} I - {b}\\big) = \\prod_{{i=1}}^{{{c1}}} ({a} - {g}_{{i}})^{{m_{{i}}}}, \\qquad \\mathrm{{Tr}}\\, {b}^{{{c2}}} = \\sum_{{i}} {g}_{{i}}^{{{c2}}}"
        ),
        _ => format!(
            "\\| {a}_{{n+1}} - {a}^{{*}} \\| \\le (1 - {g} {c1}^{{-1}})^{{n}} \\| {a}_{{0}} - {a}^{{*}} \\| + {c2} \\sigma^{{2}} {b}"
        ),
    }
}

/// A numbered equation environment.
pub fn equation(dice: &mut Dice, label: usize) -> String {
    format!("\\begin{{equation}}\\label{{eq:{label}}}\n  {}\n\\end{{equation}}", display_expression(dice))
}

/// An `align` block of several dense lines, the backbone of formula-heavy papers.
pub fn align_block(dice: &mut Dice, lines: usize) -> String {
    let body = (0..lines)
        .map(|_| format!("  {} \\\\", display_expression(dice).replacen(" = ", " &= ", 1)))
        .collect::<Vec<_>>()
        .join("\n");
    format!("\\begin{{align}}\n{body}\n\\end{{align}}")
}

/// A bibliography entry that reads like a real reference.
pub fn bibitem(dice: &mut Dice, key: usize) -> String {
    let author = dice.pick(PEOPLE);
    let journal = dice.pick(&[
        "Ann. of Math.",
        "Comm. Math. Phys.",
        "J. ACM",
        "Phys. Rev. Lett.",
        "Invent. Math.",
        "NeurIPS",
        "Nucl. Phys. B",
        "SIAM J. Comput.",
    ]);
    format!(
        "\\bibitem{{ref{key}}} {}. {author}, {journal} {} ({}) {}--{}.",
        dice.pick(&["A", "B", "C", "J", "M", "S"]),
        dice.between(10, 199),
        dice.between(1960, 2023),
        dice.between(1, 400),
        dice.between(401, 900),
    )
}

const FIRST_NAMES: &[&str] = &[
    "Anna", "Boris", "Chen", "Daniela", "Emeka", "Fatima", "Giulia", "Hiro", "Ingrid", "Jonas", "Kavya",
    "Lars", "Maria", "Nikolai", "Olga", "Pedro", "Qiang", "Rosa", "Samir", "Tomasz",
];
const LAST_NAMES: &[&str] = &[
    "Schmidt",
    "Ivanova",
    "Okafor",
    "Rossi",
    "Tanaka",
    "Novak",
    "Kowalski",
    "Haddad",
    "Lindqvist",
    "Moreau",
    "Singh",
    "Zhang",
    "Garcia",
    "Petrov",
    "Nakamura",
    "Brown",
    "Adeyemi",
    "Costa",
    "Larsen",
    "Weber",
];

/// `n` author names as (first, last).
pub fn authors(dice: &mut Dice, n: usize) -> Vec<(String, String)> {
    (0..n).map(|_| (dice.pick(FIRST_NAMES).to_string(), dice.pick(LAST_NAMES).to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_paper_stream_gives_same_sentences() {
        let mut a = Dice::for_paper(7, 3);
        let mut b = Dice::for_paper(7, 3);
        let ta = Writer::new(&mut a, Field::Math, Language::English).paragraph(3, 5);
        let tb = Writer::new(&mut b, Field::Math, Language::English).paragraph(3, 5);
        assert_eq!(ta, tb);
        let mut c = Dice::for_paper(7, 4);
        let tc = Writer::new(&mut c, Field::Math, Language::English).paragraph(3, 5);
        assert_ne!(ta, tc);
    }

    #[test]
    fn every_slot_is_filled() {
        let mut dice = Dice::for_paper(1, 0);
        for language in [Language::English, Language::French, Language::German] {
            let mut writer = Writer::new(&mut dice, Field::Physics, language);
            for _ in 0..200 {
                let sentence = writer.sentence();
                // `\mathbb{N}` in math is not a slot.
                let s: String = sentence.split('$').step_by(2).collect();
                for slot in ["{N}", "{A}", "{V}", "{Q}", "{C}", "{M}", "{P}", "{K}", "{S}", "{R}"] {
                    assert!(!s.contains(slot), "{slot} left in {s:?}");
                }
            }
        }
    }

    #[test]
    fn abstracts_carry_no_cite_or_ref() {
        let mut dice = Dice::for_paper(2, 0);
        let mut writer = Writer::new(&mut dice, Field::ComputerScience, Language::English);
        let text = writer.abstract_text(30);
        assert!(!text.contains("\\cite") && !text.contains("\\ref"), "{text}");
    }
}
