//! The notebook card of a code profile (`CodeProfile._repr_html_`): one self-contained HTML fragment
//! with scoped inline styles, every piece of text escaped.

use std::collections::BTreeSet;

use cptkit_core::pfs::{FeeAmount, FeeScheduleProfile, Rvus};
use cptkit_core::{CodeProfile, Known, REFERENCE_MINUTES, ServiceType};
use serde::Serialize;

const STYLE: &str = "<style>\
.cptkit-card{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;line-height:1.4;\
max-width:960px;border:1px solid #d0d7de;border-radius:8px;padding:12px 16px;color:#1f2328;background:#fff}\
.cptkit-card h3{margin:0 0 4px;font-size:17px}\
.cptkit-card h4{margin:14px 0 4px;font-size:14px;border-bottom:1px solid #eaeef2;padding-bottom:2px}\
.cptkit-card table{border-collapse:collapse;margin:4px 0}\
.cptkit-card th,.cptkit-card td{border:1px solid #d0d7de;padding:3px 6px;text-align:left;vertical-align:top}\
.cptkit-card th{background:#f6f8fa}\
.cptkit-card td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
.cptkit-card .badge{display:inline-block;border-radius:10px;padding:1px 8px;margin-right:4px;background:#eaeef2}\
.cptkit-card .badge.warn{background:#fff1c2;border:1px solid #d4a72c}\
.cptkit-card .muted{color:#59636e}\
.cptkit-card ul,.cptkit-card ol{margin:2px 0;padding-left:20px}\
</style>";

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The serde name of an enum value, for display (`same_category` -> `same category`).
fn label<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name.replace('_', " "),
        _ => String::from("?"),
    }
}

/// A small HTML writer: every `text` argument is escaped, every `markup` argument is trusted.
#[derive(Debug, Default)]
struct Html(String);

impl Html {
    fn markup(&mut self, markup: &str) -> &mut Self {
        self.0.push_str(markup);
        self
    }

    fn text(&mut self, text: &str) -> &mut Self {
        self.0.push_str(&escape(text));
        self
    }

    /// `<tag>text</tag>`
    fn element(&mut self, tag: &str, text: &str) -> &mut Self {
        self.markup(&format!("<{tag}>")).text(text).markup(&format!("</{tag}>"))
    }

    fn section(&mut self, title: &str) -> &mut Self {
        self.element("h4", title)
    }

    fn table_head(&mut self, headers: &[&str]) -> &mut Self {
        self.markup("<table><thead><tr>");
        for header in headers {
            self.element("th", header);
        }
        self.markup("</tr></thead><tbody>")
    }

    fn row(&mut self, cells: &[&str]) -> &mut Self {
        self.markup("<tr>");
        for cell in cells {
            self.element("td", cell);
        }
        self.markup("</tr>")
    }

    fn table_end(&mut self) -> &mut Self {
        self.markup("</tbody></table>")
    }

    fn list<'a>(&mut self, tag: &str, items: impl IntoIterator<Item = &'a str>) -> &mut Self {
        self.markup(&format!("<{tag}>"));
        for item in items {
            self.element("li", item);
        }
        self.markup(&format!("</{tag}>"))
    }
}

/// The whole card.
pub(crate) fn profile_card(p: &CodeProfile) -> String {
    let mut h = Html::default();
    h.markup("<div class=\"cptkit-card\">").markup(STYLE);

    // Anesthesia codes show every section; a fee schedule code only the sections that have content.
    let anesthesia = p.service_type != ServiceType::FeeSchedule;

    // Header: code, description, the key facts as badges.
    h.markup("<h3><code>").text(p.code.as_str()).markup("</code> ").text(&p.description).markup("</h3>");
    h.markup("<div>");
    if anesthesia {
        h.markup("<span class=\"badge\">").text(&format!("Base units: {}", p.base_units)).markup("</span>");
    }
    if !p.category.is_empty() {
        h.markup("<span class=\"badge\">").text(&p.category).markup("</span>");
    }
    h.markup("<span class=\"badge\">").text(&label(&p.service_type)).markup("</span>");
    if let Some(fee) = &p.fee_schedule {
        let class = if fee.payable { "badge" } else { "badge warn" };
        h.markup(&format!("<span class=\"{class}\">")).text(&format!("Status {}", fee.status)).markup("</span>");
        if fee.add_on {
            h.markup("<span class=\"badge\">Add-on code</span>");
        }
    }
    if anesthesia {
        match p.medicare_inpatient_only {
            Known::Yes => h.markup("<span class=\"badge warn\">Medicare inpatient-only</span>"),
            Known::No => h.markup("<span class=\"badge\">Not inpatient-only</span>"),
            Known::Unknown => h.markup("<span class=\"badge\">Inpatient-only status unknown</span>"),
        };
    }
    h.markup("</div>");
    h.markup("<p class=\"muted\">").text(&format!("Description: {}", p.description_source)).markup("</p>");

    if anesthesia {
        anesthesia_sections(&mut h, p);
    }
    if let Some(fee) = &p.fee_schedule {
        fee_schedule_section(&mut h, fee);
    }

    if !p.payer_benchmarks.is_empty() {
        // Loaded from payers' Transparency in Coverage files (`cptkit.load_benchmarks`): shown as read.
        h.section("Payer rate benchmarks (Transparency in Coverage)");
        h.table_head(&[
            "Payer",
            "Class",
            "POS",
            "Modifiers",
            "Type",
            "Basis",
            "Rates",
            "p25",
            "Median",
            "p75",
            "% of Medicare",
        ]);
        for b in &p.payer_benchmarks {
            let percent = b.medicare.as_ref().map(|m| format!("{}%", m.median_percent_of_medicare)).unwrap_or_default();
            h.row(&[
                &b.provenance.reporting_entity_name,
                &b.billing_class,
                b.place_of_service.as_deref().unwrap_or("any"),
                &b.modifiers.join(" "),
                &b.negotiated_type,
                b.rate_basis.as_str(),
                &b.count.to_string(),
                &format!("${}", b.p25),
                &format!("${}", b.median),
                &format!("${}", b.p75),
                &percent,
            ]);
        }
        h.table_end();
        h.markup("<p class=\"muted\">")
            .text("Negotiated rates as payers publish them; whether an anesthesia amount is per unit or per case is inferred (cptkit-tic README).")
            .markup("</p>");
    }

    if anesthesia || !p.related_codes.is_empty() {
        h.section("Related codes").table_head(&["Code", "Relation", "Base units", "Description"]);
        for r in &p.related_codes {
            let units = r.base_units.map(|u| u.to_string()).unwrap_or_else(|| "-".to_owned());
            h.row(&[r.code.as_str(), &label(&r.relation), &units, &r.description]);
        }
        h.table_end();
    }

    if anesthesia || !p.policy_updates.is_empty() {
        h.section("Policy updates").markup("<ul>");
        for u in &p.policy_updates {
            h.markup("<li><b>").text(&u.date.to_string()).markup("</b> ").text(&u.title);
            h.markup(": ").text(&u.summary).markup("</li>");
        }
        h.markup("</ul>");
    }

    h.section("Sources").list("ul", sources(p).iter().map(String::as_str));
    h.markup("</div>");
    h.0
}

/// The anesthesia sections: places of service, clinical context, modifiers, taxonomies, diagnoses,
/// payer policies and Medicare anesthesia benchmarks.
fn anesthesia_sections(h: &mut Html, p: &CodeProfile) {
    h.section("Places of service").markup("<ul>");
    for place in &p.places_of_service {
        h.markup("<li><b>").text(place.code.as_str()).markup("</b> ").text(&place.name);
        h.markup(" <span class=\"muted\">(").text(&place.basis).markup(")</span></li>");
    }
    h.markup("</ul>");

    let context = &p.clinical_context;
    h.section("Clinical context");
    for paragraph in &context.summary {
        h.element("p", paragraph);
    }
    h.markup("<p><b>Setting:</b> ").text(&context.setting).markup("</p>");
    if !context.care_team.is_empty() {
        h.markup("<p><b>Care team:</b> ").text(&context.care_team).markup("</p>");
    }
    if !context.workflow.is_empty() {
        h.markup("<p><b>Workflow:</b></p>").list("ol", context.workflow.iter().map(String::as_str));
    }

    h.section("Modifiers").table_head(&["Modifier", "Category", "Meaning", "Billed by", "Medicare payment effect"]);
    for m in &p.modifiers {
        h.row(&[m.code.as_str(), &label(&m.category), &m.meaning, &m.billed_by, &m.medicare_payment_effect]);
    }
    h.table_end();

    h.section("Provider taxonomies");
    h.table_head(&["Taxonomy", "Grouping", "Classification", "Specialization", "Role", "Why"]);
    for t in &p.taxonomies {
        let tx = &t.taxonomy;
        h.row(&[tx.code.as_str(), &tx.grouping, &tx.classification, &tx.specialization, &tx.provider_role, &t.why]);
    }
    h.table_end();

    h.section("Common diagnoses (ICD-10-CM)").table_head(&["Code", "Title", "Billable", "Relevance"]);
    for d in &p.diagnoses {
        let dx = &d.diagnosis;
        h.row(&[dx.code.as_str(), &dx.title, if dx.billable { "yes" } else { "no" }, &d.relevance]);
    }
    h.table_end();

    h.section("Payers and policies");
    for payer in &p.payers {
        h.markup("<p><b>").text(&payer.payer).markup("</b></p><ul>");
        for policy in &payer.policies {
            let effective = policy.effective_date.map(|d| format!(", effective {d}")).unwrap_or_default();
            h.markup("<li><b>").text(&policy.topic).markup("</b> <span class=\"muted\">(");
            h.text(&format!("{}{}; evidence: {}", policy.plan, effective, policy.evidence));
            h.markup(")</span>: ").text(&policy.policy).markup("</li>");
        }
        h.markup("</ul>");
    }

    h.section("Medicare benchmarks");
    if p.benchmarks.is_empty() {
        h.element("p", "No benchmark: this code has no base units and is priced by report.");
    } else {
        let minutes: Vec<String> = REFERENCE_MINUTES.iter().map(|m| format!("{m} min")).collect();
        let mut headers = vec!["Year", "Tier", "Locality", "Conversion factor"];
        headers.extend(minutes.iter().map(String::as_str));
        h.table_head(&headers);
        for b in &p.benchmarks {
            let locality =
                b.locality.as_ref().map_or_else(|| "national".to_owned(), |l| format!("{} ({})", l.name, l.id));
            h.markup("<tr>").element("td", &b.year.to_string()).element("td", &label(&b.tier));
            h.element("td", &locality).markup("<td class=\"num\">$").text(&b.conversion_factor.to_string());
            h.markup("</td>");
            for minutes in REFERENCE_MINUTES {
                let cell = b
                    .amounts
                    .iter()
                    .find(|a| a.minutes == minutes)
                    .map(|a| format!("${} ({} units)", a.allowed, a.total_units))
                    .unwrap_or_default();
                h.markup("<td class=\"num\">").text(&cell).markup("</td>");
            }
            h.markup("</tr>");
        }
        h.table_end();
        h.markup("<p class=\"muted\">")
            .text("Allowed amounts for anesthesia personally performed (AA or QZ), before the lesser-of-charge rule; medically directed lines are paid 50%.")
            .markup("</p>");
    }
}

/// The fee schedule section: status, RVUs of every row, the global period, the amounts nationally and
/// per locality (with the OPPS cap where it binds and the limiting charge) and every indicator in words.
fn fee_schedule_section(h: &mut Html, fee: &FeeScheduleProfile) {
    let release = &fee.release;
    h.section(&format!("Medicare Physician Fee Schedule ({})", release.release));
    h.markup("<p><b>").text(&format!("Status {}", fee.status)).markup("</b>: ").text(&fee.status_meaning);
    h.markup(" <span class=\"muted\">(").text(&format!(
        "in force {} to {}, conversion factor ${}",
        release.effective_from, release.effective_to, release.conversion_factor
    ));
    h.markup(")</span></p>");
    if let Some(section) = &fee.section {
        let name = if section.subsection.is_empty() {
            section.section.clone()
        } else {
            format!("{}: {}", section.section, section.subsection)
        };
        h.markup("<p><b>Section:</b> ").text(&format!("{name} ({}-{})", section.first, section.last)).markup("</p>");
    }

    // The code's own row first, then its components: one label per row.
    let own = fee.modifier.map_or_else(|| "global".to_owned(), |m| m.to_string());
    let rows: Vec<(String, &Rvus, &[FeeAmount])> = std::iter::once((own, &fee.rvus, fee.amounts.as_slice()))
        .chain(fee.components.iter().map(|c| (c.modifier.to_string(), &c.rvus, c.amounts.as_slice())))
        .collect();

    h.table_head(&[
        "Row",
        "Work RVU",
        "Non-facility PE RVU",
        "Facility PE RVU",
        "MP RVU",
        "Total non-facility",
        "Total facility",
    ]);
    for (name, rvus, _) in &rows {
        let na = |value: &rust_decimal::Decimal, na: bool| if na { format!("{value} (NA)") } else { value.to_string() };
        h.markup("<tr>").element("td", name);
        for cell in [
            rvus.work.to_string(),
            na(&rvus.nonfacility_pe, rvus.nonfacility_na),
            na(&rvus.facility_pe, rvus.facility_na),
            rvus.mp.to_string(),
            rvus.nonfacility_total.to_string(),
            rvus.facility_total.to_string(),
        ] {
            h.markup("<td class=\"num\">").text(&cell).markup("</td>");
        }
        h.markup("</tr>");
    }
    h.table_end();

    let global = &fee.global_period;
    h.markup("<p><b>Global period:</b> ").text(&format!("{} ({})", global.code, global.meaning));
    if !(global.pre_op.is_zero() && global.intra_op.is_zero() && global.post_op.is_zero()) {
        h.text(&format!("; pre-op {}, intra-op {}, post-op {}", global.pre_op, global.intra_op, global.post_op));
    }
    h.markup("</p>");

    if rows.iter().any(|(_, _, amounts)| !amounts.is_empty()) {
        h.table_head(&[
            "Row",
            "Locality",
            "Non-facility",
            "Facility",
            "Limiting charge (non-facility)",
            "Limiting charge (facility)",
        ]);
        for (name, _, amounts) in &rows {
            for a in *amounts {
                let locality =
                    a.locality.as_ref().map_or_else(|| "national".to_owned(), |l| format!("{} ({})", l.name, l.id));
                let allowed = |s: &cptkit_core::pfs::SettingAmount| match s.opps_cap {
                    Some(cap) => format!("${cap} (OPPS cap; fee schedule ${})", s.fee_schedule),
                    None => format!("${}", s.allowed),
                };
                h.markup("<tr>").element("td", name).element("td", &locality);
                for cell in [
                    allowed(&a.nonfacility),
                    allowed(&a.facility),
                    format!("${}", a.nonfacility.limiting_charge),
                    format!("${}", a.facility.limiting_charge),
                ] {
                    h.markup("<td class=\"num\">").text(&cell).markup("</td>");
                }
                h.markup("</tr>");
            }
        }
        h.table_end();
    }
    h.markup("<p class=\"muted\">").text(&fee.amounts_note).markup("</p>");

    h.markup("<p><b>Payment indicators</b></p>").table_head(&["Indicator", "Value", "Meaning"]);
    for i in &fee.indicators {
        h.row(&[&i.field.replace('_', " "), &i.value, &i.meaning]);
    }
    h.table_end();
}

/// Every source the profile cites, once each, in order of first appearance.
fn sources(p: &CodeProfile) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    // A fee schedule code's base-unit and inpatient-only texts say what is not known, not a source.
    let anesthesia_sources =
        (p.service_type != ServiceType::FeeSchedule).then_some([&p.base_units_source, &p.inpatient_only_source]);
    let all = std::iter::once(&p.description_source)
        .chain(anesthesia_sources.into_iter().flatten())
        .chain(&p.clinical_context.sources)
        .chain(p.modifiers.iter().map(|m| &m.source))
        .chain(p.taxonomies.iter().flat_map(|t| [&t.source, &t.taxonomy.source]))
        .chain(p.diagnoses.iter().flat_map(|d| [&d.source, &d.diagnosis.source]))
        .chain(p.payers.iter().flat_map(|payer| payer.policies.iter().map(|policy| &policy.source)))
        .chain(p.benchmarks.iter().map(|b| &b.conversion_factor_source))
        .chain(p.policy_updates.iter().map(|u| &u.source))
        .chain(p.fee_schedule.iter().map(|f| &f.release.source));
    for source in all {
        if !source.is_empty() && seen.insert(source.as_str()) {
            out.push(source.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_characters() {
        assert_eq!(escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }

    #[test]
    fn fee_schedule_card_shows_rvus_amounts_and_indicators() {
        let reference = crate::data::reference();
        let profile = reference.profile("72148".parse().expect("code"), &cptkit_core::ProfileOptions::default());
        let card = profile_card(&profile.expect("profile"));
        assert!(card.contains("<h4>Medicare Physician Fee Schedule (RVU25D)"));
        assert!(card.contains("$188.26") && card.contains("$67.60") && card.contains("$120.65"), "global, 26, TC");
        assert!(card.contains("4.25 (NA)"), "facility PE flagged NA");
        assert!(card.contains("Diagnostic test with professional (26) and technical (TC) components"));
        assert!(!card.contains("<h4>Modifiers") && !card.contains("Base units:"), "no anesthesia sections");
    }

    #[test]
    fn card_has_every_section_and_escapes_text() {
        let reference = crate::data::reference();
        let code = "00632".parse().expect("code");
        let profile = reference.profile(code, &cptkit_core::ProfileOptions::default()).expect("profile");
        let card = profile_card(&profile);
        for section in [
            "Places of service",
            "Clinical context",
            "Modifiers",
            "Provider taxonomies",
            "Common diagnoses",
            "Payers and policies",
            "Medicare benchmarks",
            "Related codes",
            "Policy updates",
            "Sources",
        ] {
            assert!(card.contains(&format!("<h4>{section}")), "{section}");
        }
        assert!(card.contains("Allopathic &amp; Osteopathic Physicians"));
        assert!(!card.contains("Allopathic & Osteopathic"));
        assert!(card.contains("Medicare inpatient-only"));
        assert!(card.contains("$264.13"));
    }
}
