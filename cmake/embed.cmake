# Embeds a text file (an OpenCL kernel source) as a C string: `const char <SYMBOL>[]`.
# Inputs: IN, OUT, SYMBOL
file(READ "${IN}" content HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
file(WRITE "${OUT}" "/* generated from ${IN} by cmake/embed.cmake */\nconst char ${SYMBOL}[] = {${bytes}0x00};\n")
