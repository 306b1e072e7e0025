/**
 * Registers the build-time compiled schema validators (empty from source): imported for its
 * effect by the packaged-step runner (the actions and tasks).
 * @module
 */
import { registerPrecompiledValidators } from '../shared/config/schema-check.js';
import { precompiledValidators } from './precompiled-schemas.js';

registerPrecompiledValidators(precompiledValidators);
