import { useId, useState, type FormEvent } from 'react';
import { parsePastedToken } from './session';

interface Props {
  /** Why the form is shown (expired session, bad link…); null on a first visit. */
  message: string | null;
  onSignIn: (token: string) => void;
}

/** Paste a token (or a whole sign-in link); the API checks it with GET /api/me. */
export function SignIn({ message, onSignIn }: Props) {
  const inputId = useId();
  const [value, setValue] = useState('');
  const [problem, setProblem] = useState<string | null>(null);

  function submit(e: FormEvent) {
    e.preventDefault();
    const parsed = parsePastedToken(value);
    if ('problem' in parsed) return setProblem(parsed.problem);
    setValue('');
    setProblem(null);
    onSignIn(parsed.token);
  }

  return (
    <section className="sign-in" aria-labelledby="sign-in-heading">
      <h2 id="sign-in-heading">Sign in</h2>
      {message && (
        <p className="sign-in-message" role="alert">
          {message}
        </p>
      )}
      <form aria-label="Sign in" onSubmit={submit} noValidate>
        <label htmlFor={inputId}>Access token</label>
        <input
          id={inputId}
          name="token"
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={value}
          onChange={(e) => setValue(e.target.value)}
          aria-describedby={`${inputId}-help`}
        />
        <button type="submit">Sign in</button>
        {problem && (
          <p className="problem" role="status">
            {problem}
          </p>
        )}
      </form>
      <p id={`${inputId}-help`} className="hint">
        Open the sign-in link <code>npm start</code> prints, or paste a token: an organizer's from <code>npm run token -- --role organizer</code>, an attendee's
        from <code>POST /api/persons/&#123;id&#125;/devices</code>. The token stays in this tab only.
      </p>
    </section>
  );
}
