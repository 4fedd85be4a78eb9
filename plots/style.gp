# SPDX-License-Identifier: MIT
# accelbench chart style, shared by every chart (plots/style.gp). accelbench copies it into each
# generated .gp file, so a generated file can be restyled alone; edit this template to restyle
# every future chart.
if (!exists("formats")) formats = "png svg"
if (!exists("width")) width = 960
if (!exists("height")) height = 540
term_png = sprintf('set terminal pngcairo size %d,%d enhanced font "sans,10" background rgb "white"', width, height)
term_svg = sprintf('set terminal svg size %d,%d dynamic enhanced font "sans,11" background rgb "white"', width, height)
# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies
set linetype 1 lc rgb "#0072B2" lw 2 pt 7 ps 0.9
set linetype 2 lc rgb "#D55E00" lw 2 pt 5 ps 0.9
set linetype 3 lc rgb "#009E73" lw 2 pt 9 ps 1.0
set linetype 4 lc rgb "#CC79A7" lw 2 pt 11 ps 1.0
set linetype 5 lc rgb "#E69F00" lw 2 pt 13 ps 1.0
set linetype 6 lc rgb "#56B4E9" lw 2 pt 3 ps 1.0
set linetype 7 lc rgb "#000000" lw 2 pt 1 ps 1.0
set linetype 8 lc rgb "#7F7F7F" lw 2 pt 2 ps 1.0
set linetype cycle 8
set border 3 lw 1 lc rgb "#444444"
set tics nomirror
set grid lc rgb "#dddddd" lw 1
set key noenhanced box lc rgb "#cccccc"
set datafile missing "-"
set title font ",13"
