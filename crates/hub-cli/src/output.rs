//! Printing results: JSON for scripts, short text for people; errors to
//! stderr.

use serde::Serialize;

/// Print `value` as pretty JSON, or the text `human` makes.
pub fn print<T: Serialize>(
    json: bool,
    value: &T,
    human: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{}", human());
    }
    Ok(())
}

pub fn print_error(err: &anyhow::Error) {
    match err.downcast_ref::<hub_core::Error>() {
        Some(core) if !core.field_errors().is_empty() => {
            eprintln!("error: invalid input");
            for f in core.field_errors() {
                eprintln!("  {}: {}", f.field, f.message);
            }
        }
        _ => eprintln!("error: {err:#}"),
    }
}

/// A fixed-width text table; the last column is not padded.
pub fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let n = cells.len();
        cells
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                if i + 1 == n {
                    c
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = vec![line(headers.iter().map(|h| h.to_string()).collect())];
    out.extend(rows.into_iter().map(line));
    out.join("\n")
}
