//! Plans as data: what an operator writes (`PlanSpec`), the image it resolves to, how the image is
//! handed over, and the stored `Plan` (KV) that the API also shows. The rules over plans live in
//! `crate::rules::plan`.

use crate::model::rollout::RolloutSpec;
use serde::{Deserialize, Serialize};

/// What an image contains; a delta applies to one source version only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ImageKind {
    /// Script-only package.
    Script,
    /// Core + script, or any whole image.
    #[default]
    Full,
    /// Differential package (EC618/EC718 SoC deltas): needs `source_version`.
    Delta,
}

impl ImageKind {
    pub fn parse(text: &str) -> Option<ImageKind> {
        match text {
            "script" => Some(ImageKind::Script),
            "full" => Some(ImageKind::Full),
            "delta" => Some(ImageKind::Delta),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ImageKind::Script => "script",
            ImageKind::Full => "full",
            ImageKind::Delta => "delta",
        }
    }
}

/// The module a device image is for when none is named: the whole device.
pub const DEFAULT_MODULE: &str = "default";

pub(crate) fn default_module() -> String {
    DEFAULT_MODULE.to_string()
}

/// How an upgrade is handed to a device that may follow redirects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Delivery {
    /// Always answer with the image bytes (200/206).
    #[default]
    Stream,
    /// Answer clients that follow redirects with a 302 to the content-addressed image URL.
    Redirect,
}

/// `PUT /admin/v1/projects/{project_key}/plans/{firmware_name}` body: who gets which version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PlanSpec {
    pub target_version: String,
    /// When non-empty, only devices reporting one of these versions are offered the target.
    #[serde(default)]
    pub from_versions: Vec<String>,
    /// Explicit device ids. With `imei_ranges`, the device set; both empty means every device.
    #[serde(default)]
    pub devices: Vec<String>,
    /// Inclusive id ranges, `[["860000000000000","860000000000999"]]`.
    #[serde(default)]
    pub imei_ranges: Vec<[String; 2]>,
    #[serde(default)]
    pub delivery: Delivery,
    #[serde(default)]
    pub allow_downgrade: bool,
    /// A staged release; absent means every eligible device at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutSpec>,
    /// Seconds from an offer to the device reporting the target before its job fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_timeout_s: Option<u64>,
    /// JSON (module OTA) devices: hold each device's job until the owner confirms it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub needs_confirm: bool,
    /// How many devices the plan is expected to reach: sizes its rollout's coordination
    /// (`fota_shared::rules::rollout::shards_for`). Absent: sized for up to 4 M devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_devices: Option<u64>,
    /// `false`: serve the target's full image only, never a delta. Absent: a device gets the
    /// delta built for its version when the catalog has one (`crate::rules::package::choose`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deltas: Option<bool>,
}

impl PlanSpec {
    /// Whether devices may be served a delta built for their version.
    pub fn uses_deltas(&self) -> bool {
        self.deltas != Some(false)
    }
}

/// The image a plan points at, resolved when the plan is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRef {
    pub sha256: String,
    pub md5: String,
    pub size: u64,
    /// The module the image is for (`default`: the whole device).
    #[serde(default = "default_module")]
    pub module: String,
}

/// One package of a plan's target: the whole image (`source_version` absent; kind `full` or
/// `script`) or a delta that applies to one source version only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    #[serde(flatten)]
    pub image: ImageRef,
    #[serde(default)]
    pub kind: ImageKind,
    /// For a delta: the version it applies to (compared numerically).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
}

impl Package {
    /// The whole image (no source): what a device without a delta of its own gets.
    pub fn full(image: ImageRef) -> Package {
        Package {
            image,
            kind: ImageKind::Full,
            source_version: None,
        }
    }

    pub fn is_delta(&self) -> bool {
        self.kind == ImageKind::Delta
    }
}

/// A stored plan: the operator's spec plus what the edge resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub project_key: String,
    pub firmware_name: String,
    #[serde(flatten)]
    pub spec: PlanSpec,
    /// The target's full image when it has one, else its first package: the plan's module and
    /// digests for readers that know one image. Devices are served the package
    /// `crate::rules::package::choose` picks from [`Plan::packages`], never this field alone.
    pub image: ImageRef,
    /// Every package of the target (at most one whole image, deltas by source version), as the
    /// catalog held them when the plan was written. Empty in plans stored before packages: then
    /// `image` is the one (whole) package.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<Package>,
    pub updated_at: String,
    /// The coordinator objects its rollout is spread over, fixed when its target was first
    /// planned; 0 in plans stored before rollouts were sharded (one object).
    #[serde(default)]
    pub shards: u32,
    /// Devices an operator cancelled out of this plan (sorted): a Luat device hears code 61, a
    /// JSON device gets no job from it, until it is uncancelled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cancelled: Vec<String>,
}

/// Most devices one plan may have cancelled out of it.
pub const MAX_CANCELLED: usize = 10_000;

impl Plan {
    /// Did an operator cancel `device_id` out of this plan?
    pub fn cancels(&self, device_id: &str) -> bool {
        self.cancelled
            .binary_search_by(|d| d.as_str().cmp(device_id))
            .is_ok()
    }

    /// The target's packages (a plan stored before packages has its one image, taken as whole).
    pub fn packages(&self) -> std::borrow::Cow<'_, [Package]> {
        if self.packages.is_empty() {
            std::borrow::Cow::Owned(vec![Package::full(self.image.clone())])
        } else {
            std::borrow::Cow::Borrowed(&self.packages)
        }
    }
}
