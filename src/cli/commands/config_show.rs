//! `benchy config show`: every effective setting, defaults included, with the file and line it
//! came from, and the settings files that were read. Secrets (an `[env]` token) are masked.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;

use crate::cli::args::Format;
use crate::settings::Settings;
use crate::util::secrets;
use crate::util::stdio;
use crate::util::table;

pub fn run(settings: &Settings, format: Format) -> Result<ExitCode> {
    let entries = settings.entries();
    let text = match format {
        Format::Json => {
            let values: serde_json::Map<String, serde_json::Value> = entries
                .iter()
                .map(|e| (e.key.clone(), json!({"value": e.value, "source": e.origin})))
                .collect();
            let files = json!({"files": settings.files, "settings": values});
            serde_json::to_string_pretty(&files)? + "\n"
        }
        Format::Table => {
            let files: Vec<String> = settings
                .files
                .iter()
                .map(|f| f.display().to_string())
                .collect();
            // Masked before the columns are measured, so a masked value keeps them aligned.
            let rows: Vec<Vec<String>> = entries
                .iter()
                .map(|e| {
                    vec![
                        e.key.clone(),
                        secrets::mask(&e.value.to_string()),
                        e.origin.clone(),
                    ]
                })
                .collect();
            format!(
                "Settings files, strongest first: {}\n\n{}",
                if files.is_empty() {
                    "(none)".to_owned()
                } else {
                    files.join(", ")
                },
                table::render(&["setting", "value", "source"], &rows)
            )
        }
    };
    stdio::write_out(&secrets::mask(&text));
    Ok(ExitCode::SUCCESS)
}
