// The error and the confirmation a page shows above its content, each
// announced to screen readers (alert for errors, status for the rest).

export function Notices({ error, notice }: { error?: string | null; notice?: string | null }) {
  return (
    <>
      {error && (
        <p className="notice is-error" role="alert">
          {error}
        </p>
      )}
      {notice && (
        <p className="notice is-ok" role="status">
          {notice}
        </p>
      )}
    </>
  );
}
