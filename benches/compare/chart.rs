//! The SVG chart `cargo bench` leaves in docs/bench.svg: one panel per
//! measure, a group of bars per workload, a bar per server.
//!
//! The axes are logarithmic: fanout delivers hundreds of thousands of
//! messages a second and pingpong tens of thousands of round trips, and on a
//! log axis the same ratio between two servers is the same height in every
//! group.

use std::error::Error;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One colour per series, in series order.
const COLOURS: [RGBColor; 5] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0x9c, 0x9c, 0x9c),
];

/// One measure across every workload and server.
pub struct Panel<'a> {
    pub caption: &'a str,
    /// The y axis's label.
    pub unit: &'a str,
    /// `values[group][series]`; `None` where a server did not run.
    pub values: Vec<Vec<Option<f64>>>,
    /// `notes[group]`: lines written above each group (the target ratios).
    pub notes: Vec<Vec<String>>,
    /// How a value is written above its bar.
    pub label: fn(f64) -> String,
}

/// Draws the panels one above the other, with `groups` along each x axis
/// and a bar per name in `series`.
pub fn write(
    path: &Path,
    title: &str,
    groups: &[&str],
    series: &[&str],
    panels: &[Panel],
) -> Result<(), Box<dyn Error>> {
    let height = 60 + 380 * panels.len() as u32;
    let root = SVGBackend::new(path, (1400, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 22))?;
    for (index, (panel, area)) in panels
        .iter()
        .zip(root.split_evenly((panels.len(), 1)))
        .enumerate()
    {
        // The legend is drawn once, in the first panel.
        draw_panel(&area, panel, groups, series, index == 0)?;
    }
    root.present()?;
    Ok(())
}

fn draw_panel(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    panel: &Panel,
    groups: &[&str],
    series: &[&str],
    legend: bool,
) -> Result<(), Box<dyn Error>> {
    let present = || panel.values.iter().flatten().flatten().copied();
    let low = present().fold(f64::INFINITY, f64::min);
    let high = present().fold(0.0, f64::max);
    if !low.is_finite() || low <= 0.0 {
        return Ok(());
    }
    // Half a decade below the lowest bar so it shows; two decades above
    // the highest for its label and the notes.
    let y_range = (low / 3.0..high * 100.0).log_scale();
    // A group per whole number; asked for as many labels as groups, the
    // axis puts them on the whole numbers. One more slot on the right
    // holds the legend.
    let x_range = -0.5..groups.len() as f64 + 0.5;
    let mut chart = ChartBuilder::on(area)
        .caption(panel.caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(80)
        .build_cartesian_2d(x_range, y_range)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(groups.len())
        .x_label_formatter(&|x| match groups.get(x.round() as usize) {
            Some(name) if (x - x.round()).abs() < 0.01 => (*name).to_owned(),
            _ => String::new(),
        })
        .x_label_style(("sans-serif", 14))
        .y_label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 14))
        .y_desc(panel.unit)
        .y_label_formatter(&|y| (panel.label)(*y))
        .draw()?;
    // Each group is 0.8 wide around its key point, a bar per series.
    let width = 0.8 / series.len() as f64;
    let floor = low / 3.0;
    for (index, name) in series.iter().enumerate() {
        let colour = COLOURS[index % COLOURS.len()];
        let bars = panel
            .values
            .iter()
            .enumerate()
            .filter_map(|(group, values)| {
                let value = (*values.get(index)?)?;
                let left = group as f64 - 0.4 + width * index as f64;
                Some((left, value))
            });
        let drawn = chart.draw_series(bars.clone().map(|(left, value)| {
            Rectangle::new(
                [(left + 0.01, floor), (left + width - 0.01, value)],
                colour.filled(),
            )
        }))?;
        if legend {
            drawn.label(*name).legend(move |(x, y)| {
                Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.filled())
            });
        }
        let style = TextStyle::from(("sans-serif", 11))
            .pos(Pos::new(HPos::Center, VPos::Bottom))
            .color(&BLACK);
        chart.draw_series(bars.map(|(left, value)| {
            Text::new(
                (panel.label)(value),
                (left + width / 2.0, value),
                style.clone(),
            )
        }))?;
    }
    // The notes, a line each, stacked from just above the highest bar.
    let note_style = TextStyle::from(("sans-serif", 12))
        .pos(Pos::new(HPos::Center, VPos::Bottom))
        .color(&BLACK);
    for (group, lines) in panel.notes.iter().enumerate() {
        for (line, text) in lines.iter().rev().enumerate() {
            let y = high * 2.5 * 2.2f64.powi(line as i32);
            chart.draw_series([Text::new(
                text.clone(),
                (group as f64, y),
                note_style.clone(),
            )])?;
        }
    }
    if legend {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(("sans-serif", 14))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;
    }
    Ok(())
}
