# Warnings for flowpipe's own tests, examples and benchmarks (never imposed on consumers).
function(flowpipe_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror=return-type)
endfunction()
