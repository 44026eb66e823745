// Every action, action lists and the generic (run-time) action list.
#pragma once

#include <flowpipe/action/action_list.hpp>
#include <flowpipe/action/generic.hpp>
