//! Per-kernel profiles: release, vermagic and the struct layouts the stub
//! kernel needs, measured from each kernel's headers by the kbuild probe in
//! tools/profile-probe/ (the files under generated/ are never edited by hand).
//!
//! A module picks its profile by vermagic. Debian bumps the ABI number of a
//! series (6.1.0-56 → 6.1.0-57) while the layouts stay put, so a newer or
//! older release of the same series and flavour is served by that series'
//! profile, and the choice says so.

#[rustfmt::skip]
mod generated {
    pub mod debian_6_1;
    pub mod debian_6_12;
}

use thiserror::Error;

/// One kernel's measured facts.
#[derive(Debug)]
pub struct KernelProfile {
    /// "6.1" or "6.12".
    pub series: &'static str,
    pub release: &'static str,
    pub vermagic: &'static str,
    pub module_layout_crc: u32,
    fields: &'static [(&'static str, u64)],
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("kernel profile {release} has no measurement for {key}")]
pub struct MissingField {
    pub release: &'static str,
    pub key: String,
}

impl KernelProfile {
    /// A measured size or offset, by probe key (`"module.init"`, `"sizeof(struct module)"`).
    pub fn field(&self, key: &str) -> Result<u64, MissingField> {
        self.get(key).ok_or_else(|| MissingField {
            release: self.release,
            key: key.to_owned(),
        })
    }

    pub fn get(&self, key: &str) -> Option<u64> {
        self.fields
            .binary_search_by(|(k, _)| (*k).cmp(key))
            .ok()
            .map(|i| self.fields[i].1)
    }

    pub fn fields(&self) -> &'static [(&'static str, u64)] {
        self.fields
    }

    /// 6.2+ keeps `current`, the preempt count and the CPU number in `pcpu_hot`.
    pub fn has_pcpu_hot(&self) -> bool {
        self.get("sizeof(struct pcpu_hot)").is_some()
    }
}

pub static DEBIAN_6_1: KernelProfile = KernelProfile {
    series: "6.1",
    release: generated::debian_6_1::RELEASE,
    vermagic: generated::debian_6_1::VERMAGIC,
    module_layout_crc: generated::debian_6_1::MODULE_LAYOUT_CRC,
    fields: generated::debian_6_1::FIELDS,
};

pub static DEBIAN_6_12: KernelProfile = KernelProfile {
    series: "6.12",
    release: generated::debian_6_12::RELEASE,
    vermagic: generated::debian_6_12::VERMAGIC,
    module_layout_crc: generated::debian_6_12::MODULE_LAYOUT_CRC,
    fields: generated::debian_6_12::FIELDS,
};

/// Every profile kload ships.
pub static PROFILES: [&KernelProfile; 2] = [&DEBIAN_6_1, &DEBIAN_6_12];

/// How a profile was chosen for a vermagic string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// The release is the one the profile was measured on.
    Exact,
    /// Another ABI release of the same series and flavour.
    SameSeries,
}

/// Choose the profile serving a module's vermagic, if any.
pub fn for_vermagic(vermagic: &str) -> Option<(&'static KernelProfile, Match)> {
    let (release, flags) = vermagic.split_once(' ').unwrap_or((vermagic, ""));
    PROFILES.iter().copied().find_map(|p| {
        let (p_release, p_flags) = p.vermagic.split_once(' ').unwrap_or((p.vermagic, ""));
        if flags != p_flags {
            return None;
        }
        if release == p_release {
            Some((p, Match::Exact))
        } else if series_of(release) == Some(p.series)
            && flavour_of(release) == flavour_of(p_release)
        {
            Some((p, Match::SameSeries))
        } else {
            None
        }
    })
}

/// "6.1.0-56-amd64" → "6.1"; "6.12.117+deb12-amd64" → "6.12".
fn series_of(release: &str) -> Option<&str> {
    let mut dots = release.match_indices('.');
    let (second, _) = dots.nth(1)?;
    Some(&release[..second])
}

/// The Debian flavour: the text after the last '-' ("amd64", "cloud-amd64" → "amd64").
fn flavour_of(release: &str) -> &str {
    release.rsplit_once('-').map_or("", |(_, f)| f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_sorted_and_carry_the_struct_module_facts() {
        for p in PROFILES {
            assert!(
                p.fields.windows(2).all(|w| w[0].0 < w[1].0),
                "{} fields unsorted",
                p.release
            );
            assert_eq!(p.field("module.init").unwrap(), 0x138);
            assert!(p.vermagic.starts_with(p.release));
        }
        assert_eq!(DEBIAN_6_1.field("module.exit").unwrap(), 0x350);
        assert_eq!(DEBIAN_6_12.field("module.exit").unwrap(), 0x4b0);
        assert!(DEBIAN_6_12.has_pcpu_hot() && !DEBIAN_6_1.has_pcpu_hot());
    }

    #[test]
    fn vermagic_selects_by_release_then_series() {
        let (p, m) = for_vermagic(DEBIAN_6_1.vermagic).unwrap();
        assert_eq!((p.series, m), ("6.1", Match::Exact));
        let (p, m) = for_vermagic("6.1.0-99-amd64 SMP preempt mod_unload modversions ").unwrap();
        assert_eq!((p.series, m), ("6.1", Match::SameSeries));
        let (p, _) =
            for_vermagic("6.12.1+deb12-amd64 SMP preempt mod_unload modversions ").unwrap();
        assert_eq!(p.series, "6.12");
        assert!(for_vermagic("6.1.0-56-amd64 SMP mod_unload ").is_none());
        assert!(for_vermagic("5.10.0-1-amd64 SMP preempt mod_unload modversions ").is_none());
    }
}
