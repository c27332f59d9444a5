# ticketd_add_plugin(<target> SOURCES <files...> [OUTPUT_DIRECTORY <dir>])
#
# Builds a job-type plugin as a MODULE library the daemon can load: hidden visibility
# (two plugins never shadow each other's symbols), no executable stack (systemd's
# MemoryDenyWriteExecute refuses one), all symbols resolved at link time.
function(ticketd_add_plugin target)
    cmake_parse_arguments(arg "" "OUTPUT_DIRECTORY" "SOURCES" ${ARGN})
    add_library(${target} MODULE ${arg_SOURCES})
    target_link_libraries(${target} PRIVATE ticketd::plugin_api)
    set_target_properties(${target} PROPERTIES
        PREFIX ""
        CXX_VISIBILITY_PRESET hidden
        VISIBILITY_INLINES_HIDDEN ON)
    target_link_options(${target} PRIVATE -Wl,-z,noexecstack -Wl,-z,defs)
    if(arg_OUTPUT_DIRECTORY)
        set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${arg_OUTPUT_DIRECTORY}")
    endif()
endfunction()
