# cmake -DIN=file -DOUT=file.inc -P embed_text.cmake: writes IN's text as the contents of
# a C++ string literal, split into raw-string pieces of at most 8000 bytes (compilers
# limit the length of one literal; adjacent literals are joined).
file(READ ${IN} text)
string(LENGTH "${text}" n)
set(out "// Generated from ${IN} by cmake/embed_text.cmake: do not edit.\n")
set(pos 0)
while(pos LESS n)
  string(SUBSTRING "${text}" ${pos} 8000 piece)
  string(FIND "${piece}" ")mien_text\"" bad)
  if(NOT bad EQUAL -1)
    message(FATAL_ERROR "${IN} contains the raw-string delimiter )mien_text\"")
  endif()
  string(APPEND out "R\"mien_text(${piece})mien_text\"\n")
  math(EXPR pos "${pos} + 8000")
endwhile()
file(WRITE ${OUT}.tmp "${out}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUT}.tmp)
