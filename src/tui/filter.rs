//! The `/` filter: fuzzy over namespace, name, twin name, DNS names and IPs; `!` inverts.
//!
//! A row matches when the pattern is a subsequence of one of its fields, with smart case (an
//! uppercase letter makes the match case-sensitive). That is exactly the set of strings the
//! Skim matcher accepts (it rejects a choice only when that subsequence test fails), so the
//! cheap test decides membership and [`SkimMatcherV2`] is asked for positions only for the few
//! rows on screen, to highlight them.

use super::types::DnsRow;
use crate::inspect::PairRow;
use fuzzy_matcher::FuzzyMatcher;
use fuzzy_matcher::skim::SkimMatcherV2;

/// A parsed filter line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    /// The pattern without the `!`.
    pub pattern: String,
    pub invert: bool,
    case_sensitive: bool,
    /// The pattern as bytes, lowercased unless case-sensitive; `None` when it is not ASCII.
    ascii: Option<Vec<u8>>,
}

impl Query {
    pub fn parse(text: &str) -> Query {
        let (invert, pattern) = match text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let case_sensitive = pattern.chars().any(|c| c.is_ascii_uppercase());
        let ascii = pattern.is_ascii().then(|| {
            pattern
                .bytes()
                .map(|b| {
                    if case_sensitive {
                        b
                    } else {
                        b.to_ascii_lowercase()
                    }
                })
                .collect()
        });
        Query {
            pattern: pattern.to_string(),
            invert,
            case_sensitive,
            ascii,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pattern.is_empty()
    }

    /// Whether a field contains the pattern as a subsequence (smart case).
    pub fn field_matches(&self, field: &str) -> bool {
        match &self.ascii {
            // The per-keystroke hot path: bytes, no UTF-8 decoding. An ASCII pattern byte can
            // only equal an ASCII byte of the field, so this is the same test as over chars.
            Some(pat) => self.subsequence_bytes(pat, field.as_bytes()),
            None => self.subsequence(field.chars()),
        }
    }

    /// Whether a row, as its [`SearchIndex`] entry, is kept (inversion applied). Same answer
    /// as [`Query::keeps_row`], without walking the row's fields.
    pub fn keeps_indexed(&self, row: &PairRow, entry: &[u8]) -> bool {
        if self.is_empty() {
            return true;
        }
        let Some(pat) = &self.ascii else {
            return self.keeps_row(row);
        };
        let hit = entry
            .split(|&b| b == SEP)
            .any(|field| self.subsequence_bytes(pat, field));
        hit != self.invert
    }

    fn subsequence_bytes(&self, pat: &[u8], field: &[u8]) -> bool {
        let Some(&first) = pat.first() else {
            return true;
        };
        if pat.len() > field.len() {
            return false;
        }
        let mut want = first;
        let mut i = 0;
        for &b in field {
            let b = if self.case_sensitive {
                b
            } else {
                b.to_ascii_lowercase()
            };
            if b == want {
                i += 1;
                match pat.get(i) {
                    Some(&next) => want = next,
                    None => return true,
                }
            }
        }
        false
    }

    fn subsequence(&self, chars: impl Iterator<Item = char>) -> bool {
        let mut pat = self.pattern.chars();
        let Some(mut want) = pat.next() else {
            return true;
        };
        for c in chars {
            let eq = if self.case_sensitive {
                c == want
            } else {
                c.eq_ignore_ascii_case(&want)
            };
            if eq {
                match pat.next() {
                    Some(next) => want = next,
                    None => return true,
                }
            }
        }
        false
    }

    /// Whether the row is shown (inversion applied).
    pub fn keeps_row(&self, row: &PairRow) -> bool {
        if self.is_empty() {
            return true;
        }
        // `namespace/name` counts as one more field, so `shopcart` or `shop/cart` find the pair.
        let qualified = || {
            row.namespace
                .chars()
                .chain(std::iter::once('/'))
                .chain(row.name.chars())
        };
        (row_fields(row).any(|f| self.field_matches(f)) || self.subsequence(qualified()))
            != self.invert
    }

    pub fn keeps_dns(&self, row: &DnsRow) -> bool {
        if self.is_empty() {
            return true;
        }
        [&row.name, &row.answer, &row.explanation]
            .iter()
            .any(|f| self.field_matches(f))
            != self.invert
    }

    /// Character positions to highlight in `text` (empty for inverted filters: nothing in a
    /// kept row matched).
    pub fn highlights(&self, text: &str) -> Vec<usize> {
        if self.is_empty() || self.invert || !self.field_matches(text) {
            return Vec::new();
        }
        let matcher = SkimMatcherV2::default().smart_case();
        matcher
            .fuzzy_indices(text, &self.pattern)
            .map(|(_, idx)| idx)
            .unwrap_or_default()
    }

    /// True when `self` can only keep a subset of what `prev` kept, so filtering can start from
    /// `prev`'s result (typing one more character).
    pub fn narrows(&self, prev: &Query) -> bool {
        !self.invert
            && !prev.invert
            && self.case_sensitive == prev.case_sensitive
            && self.pattern.starts_with(&prev.pattern)
    }
}

/// The fields the filter looks at, in the order a human scans them.
///
/// DNS names count without what every row shares: the `.svc.<cluster domain>` suffix, and for
/// host names the host namespace. Shared text makes every row a subsequence match for short
/// patterns (`crt` is in `vcluster`), which turns the filter into noise.
pub fn row_fields(row: &PairRow) -> impl Iterator<Item = &str> {
    [
        row.namespace.as_str(),
        row.name.as_str(),
        row.host.name.as_str(),
    ]
    .into_iter()
    .chain(row.dns.virtual_names.iter().map(|n| dns_stem(n)))
    .chain(
        row.dns
            .host_names
            .iter()
            .map(|n| n.split('.').next().unwrap_or(n)),
    )
    .chain(row.virtual_side.ip.as_deref())
    .chain(row.host.ip.as_deref())
}

/// `web.shop.svc.cluster.local` → `web.shop`.
pub fn dns_stem(name: &str) -> &str {
    name.find(".svc.")
        .map_or(name, |i| &name[..i])
        .trim_end_matches(".svc")
}

/// Separates fields inside a [`SearchIndex`] entry (never part of a Kubernetes name or an IP).
const SEP: u8 = 0;

/// Every row's filter fields laid out once per snapshot in one buffer, so a keystroke is a
/// tight scan over bytes instead of a walk over each row's strings.
#[derive(Debug, Clone, Default)]
pub struct SearchIndex {
    text: Vec<u8>,
    /// Start of each row's entry in `text`; one more than rows (the end).
    starts: Vec<u32>,
}

impl SearchIndex {
    pub fn build(rows: &[std::sync::Arc<PairRow>]) -> SearchIndex {
        let mut text = Vec::with_capacity(rows.len() * 160);
        let mut starts = Vec::with_capacity(rows.len() + 1);
        for row in rows {
            starts.push(text.len() as u32);
            for f in row_fields(row) {
                text.extend_from_slice(f.as_bytes());
                text.push(SEP);
            }
            text.extend_from_slice(row.namespace.as_bytes());
            text.push(b'/');
            text.extend_from_slice(row.name.as_bytes());
        }
        starts.push(text.len() as u32);
        SearchIndex { text, starts }
    }

    /// The entry of row `i` (empty if out of range).
    pub fn entry(&self, i: usize) -> &[u8] {
        match (self.starts.get(i), self.starts.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.text[a as usize..b as usize],
            _ => &[],
        }
    }

    pub fn len(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
