"""One of the paper's tables, as LaTeX (booktabs), Markdown and HTML.

Formats are columns, networks or benchmark matrices are rows, and the best
(smallest) value of each row is bold. Formats not in the study come last, their
header marked with a dagger explained under the table, and are never bold: the
best value is the best of the study's formats. Time tables hold one table per
thread count.
"""

import html
import math

from _pipeline import log, start_job, write_text

start_job(snakemake.log[0])  # noqa: F821

from _results import MEASURES, formats_for, load, wide  # noqa: E402

from hamsham.catalogue import is_study  # noqa: E402

NOT_IN_STUDY = "not part of the study: added by this project (see README); never in bold"


def number(value, measure):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if measure == "time":
        return f"{value:.3e}"
    return f"{value:.4g}" if measure == "energy" else f"{value:.4f}"


def latex_escape(text):
    for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#")):
        text = text.replace(a, b)
    return text


def dagger(column, mark):
    """`mark` after the header of a format not in the study; "" after the study's."""
    return "" if is_study(column) else mark


def outside_study(frame):
    """Whether the table has a column of a format not in the study (it needs the footnote)."""
    return not all(is_study(c) for c in frame.columns)


def cells(frame, measure):
    """Formatted cells and, per row, whether each holds the best value of the study's formats."""
    study = [c for c in frame.columns if is_study(c)]
    out = []
    for key, row in frame.iterrows():
        values = row[study].dropna()
        best = set(values.index[values == values.min()]) if len(values) else set()
        out.append((key, [(number(row[c], measure), c in best) for c in frame.columns]))
    return out


def markdown(frame, measure, head):
    lines = [f"| {head} | " + " | ".join(c + dagger(c, "†") for c in frame.columns) + " |",
             "|---|" + "---:|" * len(frame.columns)]
    for key, row in cells(frame, measure):
        text = [f"**{v}**" if best and v else v for v, best in row]
        lines.append(f"| {key} | " + " | ".join(text) + " |")
    if outside_study(frame):
        lines += ["", f"† {NOT_IN_STUDY}"]
    return "\n".join(lines) + "\n"


def latex(frame, measure, head):
    lines = [r"\begin{tabular}{l" + "r" * len(frame.columns) + "}", r"\toprule",
             latex_escape(head) + " & "
             + " & ".join(latex_escape(c) + dagger(c, r"\dag{}") for c in frame.columns) + r" \\",
             r"\midrule"]
    for key, row in cells(frame, measure):
        text = [rf"\textbf{{{v}}}" if best and v else v for v, best in row]
        lines.append(latex_escape(str(key)) + " & " + " & ".join(text) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if outside_study(frame):
        lines.append(r"\par\smallskip{\footnotesize\dag{} " + latex_escape(NOT_IN_STUDY) + "}")
    return "\n".join(lines) + "\n"


def html_table(frame, measure, head):
    out = ["<table>", "<thead><tr><th>" + html.escape(head) + "</th>"
           + "".join(f"<th>{html.escape(c)}{dagger(c, '&dagger;')}</th>" for c in frame.columns)
           + "</tr></thead>", "<tbody>"]
    for key, row in cells(frame, measure):
        text = [f"<td><b>{v}</b></td>" if best and v else f"<td>{v}</td>" for v, best in row]
        out.append(f"<tr><td>{html.escape(str(key))}</td>" + "".join(text) + "</tr>")
    out += ["</tbody>", "</table>"]
    if outside_study(frame):
        out.append(f"<p><small>&dagger; {html.escape(NOT_IN_STUDY)}</small></p>")
    return "\n".join(out) + "\n"


def main(sm):
    measure, part, dataset = sm.wildcards.measure, sm.wildcards.part, sm.wildcards.dataset
    spec = MEASURES[measure]
    table = load(measure, part, sm.input.data, sm.input.inventory)
    formats = formats_for(measure, sm.params.formats)
    head = "net" if part == "nets" else "matrix"
    what = "networks" if part == "nets" else "benchmark matrices"
    title = f"{spec['title']} of the {what} ({dataset}): {spec['text']}; best value per row in bold."
    if measure == "time" and not table.empty:
        parts = [(f"{int(t)} thread(s), {int(table[table.threads == t]['rows'].iloc[0])} rows",
                  wide(table[table.threads == t], formats)) for t in sorted(table["threads"].unique())]
    else:
        parts = [("", wide(table, formats))]
    md, tex, htm = [f"**{title}**\n"], [f"% {title}\n"], [f"<p>{html.escape(title)}</p>"]
    if table.empty:
        note = f"No {what} with {measure} results in this dataset."
        md.append(f"\n_{note}_\n")
        tex.append(f"% {note}\n")
        htm.append(f"<p><i>{html.escape(note)}</i></p>")
    for label, frame in parts:
        if label:
            md.append(f"\n*{label}*\n")
            tex.append(f"% {label}\n")
            htm.append(f"<h4>{html.escape(label)}</h4>")
        if not frame.empty:
            md.append("\n" + markdown(frame, measure, head))
            tex.append(latex(frame, measure, head))
            htm.append(html_table(frame, measure, head))
    write_text(sm.output.md, "".join(md))
    write_text(sm.output.tex, "\n".join(tex))
    write_text(sm.output.html, "\n".join(htm))
    log(f"{sm.output.md}: {len(table)} values")


main(snakemake)  # noqa: F821
