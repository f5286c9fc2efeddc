// tfjs-core alone registers no gradient functions: they ship, and are registered on import,
// with tfjs-layers' Node bundle, as the @tensorflow/tfjs union package does. (Importing
// tfjs-core's own `dist/register_all_gradients.js` fails under Node's ESM resolution.)
import '@tensorflow/tfjs-layers';
