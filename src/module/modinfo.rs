//! `.modinfo`: the NUL-separated `tag=value` strings of a module, in file
//! order (`get_modinfo`, `get_next_modinfo`).

/// The parsed `.modinfo` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Modinfo {
    entries: Vec<(String, String)>,
}

impl Modinfo {
    /// Parse the raw section bytes. Zero padding between strings is skipped,
    /// and a string without `=` is kept with an empty value, as modinfo shows it.
    pub fn parse(data: &[u8]) -> Modinfo {
        let entries = data
            .split(|&b| b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| {
                let s = String::from_utf8_lossy(s);
                match s.split_once('=') {
                    Some((k, v)) => (k.to_owned(), v.to_owned()),
                    None => (s.into_owned(), String::new()),
                }
            })
            .collect();
        Modinfo { entries }
    }

    /// The first value of `tag`.
    pub fn get(&self, tag: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == tag)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `tag`, in file order (`parm`, `alias`, `depends`...).
    pub fn get_all<'a>(&'a self, tag: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(k, _)| k == tag)
            .map(|(_, v)| v.as_str())
    }

    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tags_in_order_skipping_padding() {
        let m =
            Modinfo::parse(b"license=GPL\0\0\0name=hello_1\0parm=a:int\0parm=b:charp\0intree\0");
        assert_eq!(m.get("license"), Some("GPL"));
        assert_eq!(m.get("name"), Some("hello_1"));
        assert_eq!(m.get_all("parm").collect::<Vec<_>>(), ["a:int", "b:charp"]);
        assert_eq!(m.get("intree"), Some(""));
        assert_eq!(m.get("vermagic"), None);
    }
}
