/* SPDX-License-Identifier: MIT */
/*
 * The one escaper per output format, for every writer: CSV (results.csv, compare --format csv,
 * history export), Markdown table cells (summary.md, compare/gate tables), XML (JUnit). Strings
 * in run documents come from other people's machines (device names, reasons, run ids): every
 * text cell goes through these, never through fputs.
 */
#ifndef AB_ESCAPE_H
#define AB_ESCAPE_H

#include <stdio.h>

/*
 * One CSV text cell (NULL writes an empty cell). RFC 4180: quoted when it holds ',', '"', CR or
 * LF, quotes doubled. Formula injection neutralised as OWASP recommends: a cell starting with
 * '=', '+', '-', '@', tab or CR is written quoted with a leading single quote ("'=cmd..."), so a
 * spreadsheet shows it as text instead of evaluating it.
 *
 * Only text cells take this path. Numbers the writer formats itself (ab_csv_num: "-1.5",
 * "-inf" is never written, non-finite values are empty cells) stay numeric: they come from a
 * double, not from a document's string, so they cannot carry a formula, and quoting them would
 * turn the numeric columns into text for every spreadsheet and CSV reader.
 */
void ab_csv_cell(FILE *f, const char *s);
/* One CSV numeric cell: "%.10g", or empty for NaN / infinity. */
void ab_csv_num(FILE *f, double v);
/* Does ab_csv_cell neutralise s (its first character is one a spreadsheet evaluates)? */
int ab_csv_is_formula(const char *s);

/* One Markdown table cell's text: '|' escaped as "\|", CR and LF as spaces (a table row is one
 * line). NULL writes nothing. */
void ab_md_text(FILE *f, const char *s);

/* Text for XML content and attribute values: & < > " ' as entities, LF and tab as character
 * references, other control characters (not allowed in XML 1.0) dropped. */
void ab_xml_escape(FILE *f, const char *s);

#endif
