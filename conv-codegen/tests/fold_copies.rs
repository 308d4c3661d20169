//! The fold text says which padded positions copy input position p. For fixed lengths
//! that text is plain arithmetic: this evaluates it for every small length, pad pair and
//! mode, and compares it with the padded positions found by brute force from the
//! definition of each mode (PyTorch's `F.pad`).

mod common;

use common::gradients;

/// The input position padded position `q` holds, or `None` for a zero.
fn source(mode: &str, len: i64, lo: i64, q: i64) -> Option<i64> {
    let x = q - lo;
    if (0..len).contains(&x) {
        return Some(x);
    }
    let p = match mode {
        "zeros" => return None,
        "reflect" if x < 0 => -x,
        "reflect" => 2 * (len - 1) - x,
        "replicate" => x.clamp(0, len - 1),
        "circular" => x.rem_euclid(len),
        _ => unreachable!(),
    };
    Some(p)
}

/// `p_k + 2`, `6 - p_k`, `4`: integers and `p_k` joined by `+` and `-`.
fn eval(expression: &str, p: i64) -> i64 {
    let mut total = 0;
    let mut sign = 1;
    for token in expression.split(' ') {
        match token {
            "+" => sign = 1,
            "-" => sign = -1,
            "p_k" => total += sign * p,
            n => total += sign * n.parse::<i64>().unwrap_or_else(|_| panic!("{expression}")),
        }
    }
    total
}

/// Whether `p` meets a condition such as `1 <= p_k <= 2`, `p_k >= 3`, `p_k < 2` or `p_k = 0`.
fn holds(condition: &str, p: i64) -> bool {
    let words: Vec<&str> = condition.split(' ').collect();
    match words[..] {
        [a, "<=", "p_k", "<=", b] => eval(a, p) <= p && p <= eval(b, p),
        ["p_k", ">=", a] => p >= eval(a, p),
        ["p_k", "<", a] => p < eval(a, p),
        ["p_k", "=", a] => p == eval(a, p),
        _ => panic!("unknown condition {condition}"),
    }
}

/// The positions the fold text lists for `p`, e.g. from
/// `q_k = p_k + 2 or q_k = 2 - p_k (1 <= p_k <= 2) or 4 <= q_k < 6 (p_k = 3)`.
fn listed(copies: &str, p: i64) -> Vec<i64> {
    let mut out = Vec::new();
    for clause in copies.split(" or ") {
        let (body, condition) = match clause.split_once(" (") {
            Some((body, rest)) => (body, Some(rest.trim_end_matches(')'))),
            None => (clause, None),
        };
        if condition.is_some_and(|c| !holds(c, p)) {
            continue;
        }
        if let Some(expression) = body.strip_prefix("q_k = ") {
            out.push(eval(expression, p));
        } else {
            let (from, to) = body.split_once(" <= q_k < ").expect(clause);
            out.extend(from.parse::<i64>().unwrap()..to.parse::<i64>().unwrap());
        }
    }
    out.sort();
    out
}

#[test]
fn copies_match_the_padding_definition() {
    let mut checked = 0;
    for mode in ["zeros", "reflect", "replicate", "circular"] {
        for len in 1..=6i64 {
            for lo in 0..=6i64 {
                for hi in 0..=6i64 {
                    let fits = match mode {
                        "reflect" => lo.max(hi) < len,
                        "circular" => lo.max(hi) <= len,
                        _ => true,
                    };
                    if !fits {
                        continue;
                    }
                    let kernel = format!(
                        "c(x, w) = \"nclk,dck->ndl\" {{ unfold x.l by k, pad = ({lo}, {hi}), mode = {mode}; size l = {len}; }}"
                    );
                    let line = gradients(&kernel)[1].clone();
                    let copies = line
                        .split_once("for every k, ")
                        .and_then(|(_, rest)| rest.split_once(", 0 <= l"))
                        .map(|(copies, _)| copies)
                        .unwrap_or_else(|| panic!("{line}"));
                    for p in 0..len {
                        let expected: Vec<i64> = (0..lo + len + hi)
                            .filter(|&q| source(mode, len, lo, q) == Some(p))
                            .collect();
                        assert_eq!(
                            listed(copies, p),
                            expected,
                            "{mode} len {len} pad ({lo}, {hi}) p {p}: {copies}"
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 500, "{checked}");
}
