/* SPDX-License-Identifier: MIT */
#include "escape.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

int ab_csv_is_formula(const char *s)
{
    return s && *s && strchr("=+-@\t\r", *s) != NULL;
}

void ab_csv_cell(FILE *f, const char *s)
{
    if (!s)
        s = "";
    bool formula = ab_csv_is_formula(s);
    if (!formula && !strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    if (formula)
        fputc('\'', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void ab_csv_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.10g", v);
}

void ab_md_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n' || *s == '\r')
            fputc(' ', f);
        else
            fputc(*s, f);
    }
}

void ab_xml_escape(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        switch (ch) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        case '\n': fputs("&#10;", f); break;
        case '\t': fputs("&#9;", f); break;
        default:
            /* XML 1.0 has no other control characters at all */
            if (ch >= 0x20 || ch == '\r')
                fputc(ch, f);
        }
    }
}
