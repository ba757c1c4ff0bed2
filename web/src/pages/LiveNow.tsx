import { useQuery } from "@apollo/client/react";
import { LIVE_SESSIONS } from "../operations.js";
import { Link } from "../router.js";
import { describeError } from "../errors.js";
import { ErrorText } from "../ui.js";

export function LiveNow() {
  const { data, error, loading, fetchMore, refetch } = useQuery<any>(LIVE_SESSIONS, { variables: { first: 20 }, pollInterval: 10_000 });
  const conn = data?.liveSessions;
  return (
    <section>
      <h1>Live now</h1>
      <ErrorText message={error ? describeError(error) : null} />
      {loading && !conn && <p>Loading rooms…</p>}
      {conn && conn.edges.length === 0 && <p data-testid="no-rooms">Nobody is live right now.</p>}
      <ul className="rooms">
        {conn?.edges.map(({ node }: any) => (
          <li key={node.id} data-testid="room-card">
            <Link to={`/room/${node.id}`} testId={`room-link-${node.id}`}>
              <strong className="host">{node.host.displayName}</strong>
              <span className="title">{node.title}</span>
              <span className="stats">
                {node.giftCount} gifts · {node.coinsReceived} coins
              </span>
            </Link>
          </li>
        ))}
      </ul>
      {conn?.pageInfo.hasNextPage && (
        <button onClick={() => fetchMore({ variables: { after: conn.pageInfo.endCursor }, updateQuery: (prev: any, { fetchMoreResult }: any) => ({ liveSessions: { ...fetchMoreResult.liveSessions, edges: [...prev.liveSessions.edges, ...fetchMoreResult.liveSessions.edges] } }) })}>
          More rooms
        </button>
      )}
      <button className="link" onClick={() => refetch()}>
        Refresh
      </button>
    </section>
  );
}
