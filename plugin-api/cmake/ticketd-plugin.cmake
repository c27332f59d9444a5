# ticketd_add_plugin(<target> SOURCES <files...>
#                    [OUTPUT_NAME <name>] [OUTPUT_DIRECTORY <dir>]
#                    [INSTALL_DESTINATION <dir> | NO_INSTALL])
#
# Builds a job-type plugin the daemon can load, the same way for bundled and third-party
# plugins: a MODULE library named <name>.so (default: <target>.so), hidden visibility
# (two plugins never shadow each other's symbols), no executable stack (systemd's
# MemoryDenyWriteExecute and ticketd both refuse one), every symbol resolved at link time
# (-z defs: a missing symbol is a build error, not a load-time surprise), and an install
# rule to <prefix>/lib/ticketd/plugins (or INSTALL_DESTINATION; NO_INSTALL for test plugins).
include_guard(GLOBAL)
include(GNUInstallDirs)

function(ticketd_add_plugin target)
    cmake_parse_arguments(arg "NO_INSTALL" "OUTPUT_NAME;OUTPUT_DIRECTORY;INSTALL_DESTINATION" "SOURCES" ${ARGN})
    if(NOT arg_SOURCES)
        message(FATAL_ERROR "ticketd_add_plugin(${target}): SOURCES is required")
    endif()
    add_library(${target} MODULE ${arg_SOURCES})
    target_link_libraries(${target} PRIVATE ticketd::plugin_api)
    set_target_properties(${target} PROPERTIES
        PREFIX ""
        OUTPUT_NAME "${target}"
        C_VISIBILITY_PRESET hidden
        CXX_VISIBILITY_PRESET hidden
        VISIBILITY_INLINES_HIDDEN ON)
    if(arg_OUTPUT_NAME)
        set_target_properties(${target} PROPERTIES OUTPUT_NAME "${arg_OUTPUT_NAME}")
    endif()
    if(arg_OUTPUT_DIRECTORY)
        set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${arg_OUTPUT_DIRECTORY}")
    endif()
    target_link_options(${target} PRIVATE -Wl,-z,noexecstack -Wl,-z,defs)
    if(arg_NO_INSTALL)
        return()
    endif()
    if(NOT arg_INSTALL_DESTINATION)
        # Where ticketd looks by default (plugin_dir: /usr/lib/ticketd/plugins), and
        # not the multiarch libdir: plugins are not libraries anything links against.
        set(arg_INSTALL_DESTINATION "lib/ticketd/plugins")
    endif()
    install(TARGETS ${target} LIBRARY DESTINATION "${arg_INSTALL_DESTINATION}" COMPONENT plugins)
endfunction()
