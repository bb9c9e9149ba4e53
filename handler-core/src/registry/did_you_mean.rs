//! "Did you mean": the registered name closest to a mistyped one.

/// The candidate closest to `typed` (case-insensitive edit distance), when it is close enough to
/// be a typo: at most a third of the longer name's length, and at least one edit allowed.
pub(crate) fn closest<'a>(
    typed: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let typed = typed.to_lowercase();
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(&typed, &candidate.to_lowercase()), candidate))
        .filter(|(distance, candidate)| {
            let longer = typed.chars().count().max(candidate.chars().count());
            *distance <= (longer / 3).max(1)
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance, counting an adjacent transposition as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows: two rows back (for transpositions), the previous one, the current one.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            current[j] = best;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("uptrain", "uptrain"), 0);
        assert_eq!(edit_distance("uptrian", "uptrain"), 1);
        assert_eq!(edit_distance("uptran", "uptrain"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggests_only_close_names() {
        let names = ["uptrain", "audit", "langsmith"];
        assert_eq!(closest("uptrian", names), Some("uptrain"));
        assert_eq!(closest("UpTrain2", names), Some("uptrain"));
        assert_eq!(closest("audti", names), Some("audit"));
        assert_eq!(closest("langsmit", names), Some("langsmith"));
        assert_eq!(closest("phoenix", names), None);
        assert_eq!(closest("x", names), None);
    }
}
