// Umbrella header of the bark library.
#pragma once

#include "bark/errors.h"
#include "bark/export.h"
#include "bark/generator.h"
#include "bark/history_prompt.h"
#include "bark/logging.h"
#include "bark/options.h"
#include "bark/pipeline.h"
#include "bark/progress.h"
#include "bark/speech.h"
#include "bark/types.h"
#include "bark/version.h"
#include "bark/wav.h"
#include "bark/audio_file.h"
#include "bark/voice_cloner.h"
